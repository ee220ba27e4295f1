//! The state machine of a timer, as pure functions: applying a command, firing a wake-up.
//! The scheduler wraps these in KV compare-and-set; everything that decides lives here.
//!
//! Ordering rule: a definition (upsert, patch, delete) takes the command stream's sequence as
//! its `generation`. A command whose sequence is not above the stored generation is stale (or
//! a redelivery of the one already applied) and changes nothing, so an older command delivered
//! late never undoes a newer one, whatever the number of schedulers. Controls (pause, resume,
//! trigger) are ordered the same way against `last_command`, the sequence of the last command
//! applied of any kind, so a redelivered trigger never fires twice.
//!
//! Occurrences: the record waits for at most one scheduled occurrence (`next_fire_at`) and
//! any number of retries the scheduler holds for workers (`retries`); the scheduler arms the
//! earliest of them as the timer's one wake-up and, once it fired, the next. Fired
//! occurrences stay `in_flight` until a worker reports their final outcome, so a recurring
//! timer's occurrences may overlap (or not: `overlap: skip`).

use chrono::{DateTime, Utc};

use crate::command::{Command, CommandBody, merge_patch};
use crate::error::{ErrorCode, ValidationError};
use crate::fire::Fire;
use crate::limits::{self, Limits};
use crate::mark::Mark;
use crate::timer::{
    Attempt, AttemptOutcome, HeldRetry, LastTrigger, TimerRecord, TimerSpec, TimerStatus,
};

/// At most this many occurrences are tracked in flight; beyond it the oldest are forgotten
/// (their reports are then ignored). Only a target that never answers and a schedule much
/// faster than the retry policy could get there.
const MAX_IN_FLIGHT: usize = 1000;

/// What applying a command or firing a wake-up produces: the record to write and the
/// messages to publish. A firing publishes them first (their ids de-duplicate a retry, while a
/// record written first and then lost with its fire would lose the occurrence); a command
/// writes first, so that no report of its calls can come before the record expects them, and
/// sends them again when it is redelivered ([`unsent`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub record: TimerRecord,
    pub fires: Vec<Fire>,
    /// Entries for the execution log made by the scheduler itself (skipped occurrences).
    pub log: Vec<Attempt>,
    /// The record need not be written: the firing of a one-time timer is recorded by the
    /// report of its first attempt instead (one KV write fewer per timer), and the fire's
    /// de-duplication id makes a repeated firing in between harmless. See [`report`].
    pub deferred: bool,
}

impl Outcome {
    fn of(record: TimerRecord) -> Self {
        Self {
            record,
            fires: Vec::new(),
            log: Vec::new(),
            deferred: false,
        }
    }
}

/// The result of applying a command to the stored state.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Write this record (CAS on the revision it was read at) and publish its fires.
    Changed(Box<Outcome>),
    /// Nothing to write: a stale command, a redelivery, or a report about another generation.
    Unchanged,
}

/// The stored state a command applies to: the record and its KV revision.
pub type Current<'a> = Option<(&'a TimerRecord, u64)>;

fn not_found(cmd: &Command) -> ValidationError {
    ValidationError::not_found(format!("timer {} not found", cmd.key()))
}

/// [`apply_with`] the default [`Limits`].
pub fn apply(
    current: Current<'_>,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Applied, ValidationError> {
    apply_with(current, cmd, seq, accepted_at, now, &Limits::default())
}

/// Applies `cmd`, accepted on the command stream at `seq` and `accepted_at`, to `current`,
/// under the operator's `limits` (a patched definition is validated against them, and a
/// callback's `nextExecuteAt` is held to their floor).
pub fn apply_with(
    current: Current<'_>,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Applied, ValidationError> {
    let live = current.filter(|(r, _)| r.status != TimerStatus::Cancelled);
    if let Some(expected) = cmd.expected_revision {
        match current {
            Some((_, revision)) if revision == expected => {}
            Some((_, revision)) => {
                return Err(ValidationError::new(
                    ErrorCode::RevisionConflict,
                    format!("the timer is at revision {revision}, not {expected}"),
                ));
            }
            None => return Err(not_found(cmd)),
        }
    }
    let stale = current.is_some_and(|(r, _)| seq <= r.generation);
    let changed = |outcome: Outcome| Ok(Applied::Changed(Box::new(outcome)));
    match &cmd.body {
        CommandBody::Upsert { spec, paused } => {
            if stale {
                return Ok(Applied::Unchanged);
            }
            let created_at = live.map_or(now, |(r, _)| r.created_at);
            let mut record = define(cmd, spec.clone(), seq, accepted_at, created_at, now)?;
            if *paused {
                record.status = TimerStatus::Paused;
            }
            changed(Outcome::of(record))
        }
        CommandBody::Patch { patch } => {
            let Some((record, _)) = live else {
                return Err(not_found(cmd));
            };
            if stale {
                return Ok(Applied::Unchanged);
            }
            changed(patched(record, patch, cmd, seq, accepted_at, now, limits)?)
        }
        CommandBody::Delete => {
            // DELETE is idempotent: deleting a cancelled timer changes nothing and is answered
            // with the timer as it is, as GET shows it (If-Match was checked above).
            if current.is_some_and(|(r, _)| r.status == TimerStatus::Cancelled) {
                return Ok(Applied::Unchanged);
            }
            let Some((record, _)) = live else {
                return Err(not_found(cmd));
            };
            if stale {
                return Ok(Applied::Unchanged);
            }
            let mut next = record.clone();
            next.status = TimerStatus::Cancelled;
            next.generation = seq;
            next.last_command = seq;
            next.next_fire_at = None;
            next.retries.clear();
            next.in_flight.clear();
            next.fan_outs.clear();
            next.updated_at = now;
            changed(Outcome::of(next))
        }
        CommandBody::Report { attempt, rearm } => {
            Ok(report(live.map(|(r, _)| r), attempt, *rearm, now, limits))
        }
        CommandBody::Pause | CommandBody::Resume | CommandBody::Trigger => {
            let Some((record, _)) = live else {
                return Err(not_found(cmd));
            };
            if seq <= record.last_command {
                return Ok(Applied::Unchanged);
            }
            control(record, cmd, seq, accepted_at, now)
                .map(|outcome| Applied::Changed(Box::new(outcome)))
        }
    }
}

/// A fresh definition: due at the schedule's first time.
fn define(
    cmd: &Command,
    spec: TimerSpec,
    seq: u64,
    anchor: DateTime<Utc>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<TimerRecord, ValidationError> {
    let next_fire_at = Some(
        spec.schedule
            .first_due_checked(anchor)
            .map_err(|e| e.within("schedule"))?,
    );
    Ok(TimerRecord {
        namespace: cmd.namespace.clone(),
        id: cmd.id.clone(),
        status: TimerStatus::Scheduled,
        spec,
        generation: seq,
        last_command: seq,
        occurrence: 1,
        anchor,
        next_fire_at,
        retries: Vec::new(),
        in_flight: Vec::new(),
        attempts: 0,
        last_result: None,
        runs: 0,
        successes: 0,
        failures: 0,
        triggered: 0,
        skipped: 0,
        expired: 0,
        fan_outs: Vec::new(),
        deliveries: 0,
        delivery_failures: 0,
        last_trigger: None,
        trace: cmd.trace,
        created_at,
        updated_at: now,
    })
}

/// Applies a PATCH: `schedule` is replaced whole when given, `target`, `retry` and `metadata`
/// are merged (a metadata key set to `null` is removed).
fn patched(
    record: &TimerRecord,
    patch: &serde_json::Value,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<Outcome, ValidationError> {
    let Some(fields) = patch.as_object() else {
        return Err(ValidationError::new(
            ErrorCode::InvalidJson,
            "a patch is a JSON object",
        ));
    };
    let mut doc = serde_json::to_value(&record.spec)
        .map_err(|e| ValidationError::new(ErrorCode::Internal, e.to_string()))?;
    for (name, value) in fields {
        match name.as_str() {
            "schedule" => doc["schedule"] = value.clone(),
            // `"metadata": null` removes every key (RFC 7396: null removes the member); the
            // spec then decodes with none, as a record written without metadata does.
            "metadata" if value.is_null() => {
                if let Some(spec) = doc.as_object_mut() {
                    spec.remove("metadata");
                }
            }
            "target" | "retry" | "metadata" => merge_patch(&mut doc[name.as_str()], value),
            other => {
                return Err(ValidationError::invalid(
                    other,
                    format!(
                        "unknown field `{other}`; a patch may change schedule, target, retry \
                         and metadata"
                    ),
                ));
            }
        }
    }
    let mut spec: TimerSpec = crate::error::from_json_slice(doc.to_string().as_bytes())?;
    spec.validate_with(limits)?;
    let schedule_changed = spec.schedule != record.spec.schedule;
    let active = matches!(
        record.status,
        TimerStatus::Scheduled | TimerStatus::Running | TimerStatus::Paused
    );
    if !schedule_changed && !active {
        // A finished timer: the new definition is kept, nothing is re-armed.
        let mut next = record.clone();
        next.spec = spec;
        next.generation = seq;
        next.last_command = seq;
        next.trace = cmd.trace.or(record.trace);
        next.updated_at = now;
        return Ok(Outcome::of(next));
    }
    if schedule_changed {
        let mut next = define(cmd, spec, seq, accepted_at, record.created_at, now)?;
        next.runs = record.runs;
        next.successes = record.successes;
        next.failures = record.failures;
        next.triggered = record.triggered;
        next.skipped = record.skipped;
        next.expired = record.expired;
        next.last_result = record.last_result.clone();
        if record.status == TimerStatus::Paused {
            next.status = TimerStatus::Paused;
        }
        return Ok(Outcome::of(next));
    }
    // Same schedule, new target, retry policy or metadata: the schedule keeps its place.
    // Occurrences in flight are fired again at once under the new generation, since workers
    // drop the attempts of the old one (keeping them would lose those occurrences).
    let mut next = record.clone();
    next.spec = spec;
    next.generation = seq;
    next.last_command = seq;
    next.trace = cmd.trace.or(record.trace);
    next.updated_at = now;
    next.retries.clear();
    // A topic occurrence fired again is fanned out again, to the subscribers of the moment.
    next.fan_outs.clear();
    Ok(Outcome {
        fires: fired_again(&next, accepted_at),
        ..Outcome::of(next)
    })
}

/// The occurrences in flight of `record`, fired again under its generation (a redefinition
/// accepted at `accepted_at` made it).
fn fired_again(record: &TimerRecord, accepted_at: DateTime<Utc>) -> Vec<Fire> {
    record
        .in_flight
        .iter()
        .map(|&occurrence| Fire {
            namespace: record.namespace.clone(),
            id: record.id.clone(),
            generation: record.generation,
            occurrence,
            attempt: 1,
            due_at: accepted_at,
            occurrence_due_at: accepted_at,
            triggered: false,
            subscriber: None,
            fan_out: 0,
            command: record.spec.target.command.is_some(),
            replay: false,
            trace: record.trace,
        })
        .collect()
}

/// Pause, resume, trigger. Always a write, even pausing a paused timer: `last_command` moves,
/// so an older control command delivered late stays stale.
fn control(
    record: &TimerRecord,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Outcome, ValidationError> {
    let (body, cmd_trace) = (&cmd.body, cmd.trace);
    if record.status.is_final() {
        let verb = match body {
            CommandBody::Pause => "paused",
            CommandBody::Resume => "resumed",
            _ => "triggered",
        };
        return Err(ValidationError::new(
            ErrorCode::Conflict,
            format!(
                "the timer is {}; only a scheduled, running or paused timer can be {verb}",
                wire_name(&record.status)
            ),
        ));
    }
    let mut next = record.clone();
    next.last_command = seq;
    next.updated_at = now;
    let mut fires = Vec::new();
    match body {
        CommandBody::Pause => next.status = TimerStatus::Paused,
        CommandBody::Resume => {
            // The pending occurrence is armed again; if it was missed while paused, firing
            // it applies the misfire policy, which is what "resume from now" means.
            next.status = TimerStatus::Scheduled;
            next.status = settled(&next);
        }
        _ => {
            let occurrence = next.occurrence;
            next.occurrence += 1;
            next.runs += 1;
            next.triggered += 1;
            track(&mut next, occurrence);
            if next.status != TimerStatus::Paused {
                next.status = TimerStatus::Running;
            }
            let trigger = LastTrigger {
                command: seq,
                occurrence,
                due_at: accepted_at,
                trace: cmd_trace,
            };
            next.last_trigger = Some(trigger);
            fires.push(triggered_fire(&next, &trigger));
        }
    }
    Ok(Outcome {
        fires,
        ..Outcome::of(next)
    })
}

/// The call a trigger makes.
fn triggered_fire(record: &TimerRecord, trigger: &LastTrigger) -> Fire {
    Fire {
        namespace: record.namespace.clone(),
        id: record.id.clone(),
        generation: record.generation,
        occurrence: trigger.occurrence,
        attempt: 1,
        due_at: trigger.due_at,
        occurrence_due_at: trigger.due_at,
        triggered: true,
        subscriber: None,
        fan_out: 0,
        command: record.spec.target.command.is_some(),
        replay: false,
        trace: trigger.trace.or(record.trace),
    }
}

/// The calls command `cmd` (sequence `seq`, accepted at `accepted_at`), already applied to
/// `record`, made and that may not have gone out: the record is written before its fires are
/// sent, so a command redelivered after the write sends them again. They carry the same ids,
/// and NATS drops those that did go out. A trigger's call, while its occurrence is in flight
/// and unreported; a redefinition's calls again, while they are in flight under it.
pub fn unsent(
    record: &TimerRecord,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
) -> Vec<Fire> {
    match &cmd.body {
        CommandBody::Trigger => {
            let Some(trigger) = record.last_trigger.filter(|t| t.command == seq) else {
                return Vec::new();
            };
            let reported = record
                .last_result
                .as_ref()
                .is_some_and(|r| r.occurrence == trigger.occurrence);
            if record.in_flight.contains(&trigger.occurrence) && !reported {
                vec![triggered_fire(record, &trigger)]
            } else {
                Vec::new()
            }
        }
        CommandBody::Upsert { .. } | CommandBody::Patch { .. } if record.generation == seq => {
            fired_again(record, accepted_at)
        }
        _ => Vec::new(),
    }
}

/// How a value is written on the wire (`fire_once`, `succeeded`), for messages.
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Adds `occurrence` to those in flight; past [`MAX_IN_FLIGHT`], the oldest is forgotten.
fn track(record: &mut TimerRecord, occurrence: u64) {
    record.in_flight.push(occurrence);
    if record.in_flight.len() > MAX_IN_FLIGHT {
        let oldest = record.in_flight.remove(0);
        record.fan_outs.retain(|f| f.occurrence != oldest);
    }
}

/// Forgets `occurrence`: no longer in flight, no retry of it held, no fan-out of it pending.
fn end_occurrence(record: &mut TimerRecord, occurrence: u64) {
    record.in_flight.retain(|&o| o != occurrence);
    record.retries.retain(|r| r.occurrence != occurrence);
    record.fan_outs.retain(|f| f.occurrence != occurrence);
}

/// The status a live timer has given what it waits for: paused stays paused while anything
/// remains; otherwise running while an occurrence is in flight, scheduled while one is
/// pending, and finished when neither (completed for recurring timers, succeeded or failed
/// by the last outcome for one-time ones).
fn settled(record: &TimerRecord) -> TimerStatus {
    let busy = !record.in_flight.is_empty() || !record.retries.is_empty();
    if record.status == TimerStatus::Paused && (busy || record.next_fire_at.is_some()) {
        return TimerStatus::Paused;
    }
    if busy {
        return TimerStatus::Running;
    }
    if record.next_fire_at.is_some() {
        return TimerStatus::Scheduled;
    }
    if record.spec.schedule.is_recurring() {
        return TimerStatus::Completed;
    }
    match record.last_result.as_ref().map(|a| a.outcome) {
        Some(AttemptOutcome::Failed | AttemptOutcome::Expired) => TimerStatus::Failed,
        Some(AttemptOutcome::Stopped) => TimerStatus::Completed,
        _ => TimerStatus::Succeeded,
    }
}

/// The earliest instant a callback may move its timer's next occurrence to: `min_interval`
/// after the attempt started. Measured from the attempt (not from when the report is
/// applied), so every scheduler applying the report decides the same instant; an instant
/// asked for earlier is moved to it, so an answer naming the past cannot make a loop of calls.
pub fn callback_floor(attempt: &Attempt, limits: &Limits) -> Option<DateTime<Utc>> {
    limits::add(attempt.started_at, limits.min_gap())
}

/// Where a callback's `nextExecuteAt` moves the next occurrence: no earlier than
/// [`callback_floor`]; `None` (no further occurrence) past [`limits::LATEST`].
pub fn rescheduled_at(
    asked: DateTime<Utc>,
    attempt: &Attempt,
    limits: &Limits,
) -> Option<DateTime<Utc>> {
    let floor = callback_floor(attempt, limits)?;
    limits::bounded(asked.max(floor))
}

/// The mark that a callback's answer in `attempt` raises, if it stopped the timer or moved
/// its next occurrence: the scheduled occurrences after it that were already under way (a
/// fire emitted, a wake-up held) are void from the answer on. The worker that got the answer
/// raises it before reporting, and the scheduler that applies the report raises it again.
pub fn answer_mark(attempt: &Attempt, limits: &Limits) -> Option<Mark> {
    let moved_to = match attempt.outcome {
        AttemptOutcome::Stopped => None,
        AttemptOutcome::Rescheduled => attempt
            .next_at
            .and_then(|at| rescheduled_at(at, attempt, limits)),
        _ => return None,
    };
    Some(Mark::answered(
        attempt.generation,
        attempt.occurrence,
        attempt.started_at,
        moved_to,
    ))
}

/// A report that an occurrence of this definition was not called: a callback's answer to an
/// earlier one voided it (see [`answer_mark`]). The occurrence is over, uncounted, and the
/// last result stays the answer that voided it. Occurrences of other generations are not the
/// record's any more: nothing to do.
fn voided(record: &TimerRecord, attempt: &Attempt, now: DateTime<Utc>) -> Applied {
    if record.generation != attempt.generation || !record.in_flight.contains(&attempt.occurrence) {
        return Applied::Unchanged;
    }
    let mut next = record.clone();
    end_occurrence(&mut next, attempt.occurrence);
    next.updated_at = now;
    next.status = settled(&next);
    Applied::Changed(Box::new(Outcome::of(next)))
}

/// Applies a worker's report of one attempt. Idempotent: a redelivered report changes nothing.
fn report(
    record: Option<&TimerRecord>,
    attempt: &Attempt,
    rearm: bool,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Applied {
    let Some(record) = record else {
        return Applied::Unchanged;
    };
    // An occurrence fired without its record being written is recorded here, with its first
    // report: a one-time timer's firing always (see `Outcome::deferred`), any timer's when a
    // command (a pause) rewrote the record between the fire and its write. The call was made,
    // so it is recorded as made: neither misfire nor overlap applies to it any more.
    if attempt.outcome == AttemptOutcome::Superseded {
        return voided(record, attempt, now);
    }
    let fired;
    let record = if fired_unrecorded(record, attempt) {
        let due_at = attempt.occurrence_due_at.unwrap_or(attempt.due_at);
        fired = record_called(record, due_at, now);
        &fired
    } else {
        record
    };
    if record.generation != attempt.generation || !record.in_flight.contains(&attempt.occurrence) {
        return Applied::Unchanged;
    }
    if attempt.outcome == AttemptOutcome::FannedOut {
        return fanned_out(record, attempt, now);
    }
    if !attempt.outcome.is_final() && attempt.outcome != AttemptOutcome::Retrying {
        return Applied::Unchanged;
    }
    if let Some(subscriber) = &attempt.subscriber {
        return delivered(record, attempt, subscriber, rearm, now);
    }
    if let Some(last) = &record.last_result
        && last.occurrence == attempt.occurrence
        && (last == attempt || attempt.attempt < last.attempt)
    {
        return Applied::Unchanged;
    }
    let mut next = record.clone();
    next.attempts = attempt.attempt;
    next.last_result = Some(attempt.clone());
    next.updated_at = now;
    let occurrence = attempt.occurrence;
    match attempt.outcome {
        AttemptOutcome::Retrying => {
            // A retry past the latest instant is never due: not held (the worker bounds its
            // waits, so only a hand-made report asks for one).
            if rearm && let Some(at) = attempt.next_at.and_then(limits::bounded) {
                next.retries.push(HeldRetry {
                    occurrence,
                    attempt: attempt.attempt + 1,
                    at,
                    occurrence_due_at: attempt.occurrence_due_at.unwrap_or(attempt.due_at),
                    subscriber: None,
                });
                next.retries.sort_by_key(|r| r.at);
            }
        }
        outcome => {
            end_occurrence(&mut next, occurrence);
            match outcome {
                AttemptOutcome::Succeeded => next.successes += 1,
                AttemptOutcome::Failed => next.failures += 1,
                AttemptOutcome::Expired => next.expired += 1,
                AttemptOutcome::Rescheduled => {
                    next.successes += 1;
                    // The callback moves the next occurrence (durable-timer's contract), never
                    // sooner than the floor after this attempt.
                    if let Some(at) = attempt.next_at {
                        next.next_fire_at = rescheduled_at(at, attempt, limits);
                    }
                }
                AttemptOutcome::Stopped => {
                    next.successes += 1;
                    next.next_fire_at = None;
                }
                _ => {}
            }
        }
    }
    next.status = settled(&next);
    Applied::Changed(Box::new(Outcome::of(next)))
}

mod fanout;
mod firing;

use fanout::{delivered, fanned_out};
pub use firing::{fire, pending_wake};
use firing::{fired_unrecorded, record_called};

#[cfg(test)]
mod tests;
