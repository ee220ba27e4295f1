//! The state machine of a timer, as pure functions: applying a command, firing a wake-up.
//! The scheduler wraps these in KV compare-and-set; everything that decides lives here.
//!
//! Ordering rule: a definition (upsert, patch, delete) takes the command stream's sequence as
//! its `generation`. A command whose sequence is not above the stored generation is stale (or
//! a redelivery of the one already applied) and changes nothing, so an older command delivered
//! late never undoes a newer one, whatever the number of schedulers.

use chrono::{DateTime, Utc};

use crate::command::{Command, CommandBody, merge_patch};
use crate::error::{ErrorCode, ValidationError};
use crate::fire::{Fire, WakeUp};
use crate::timer::{Attempt, AttemptOutcome, TimerRecord, TimerSpec, TimerStatus};

/// The result of applying a command to the stored state.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Write this record (CAS on the revision it was read at).
    Changed(Box<TimerRecord>),
    /// Nothing to write: a stale command, a redelivery, or a report about another generation.
    Unchanged,
}

/// The stored state a command applies to: the record and its KV revision.
pub type Current<'a> = Option<(&'a TimerRecord, u64)>;

/// Applies `cmd`, accepted on the command stream at `seq` and `accepted_at`, to `current`.
pub fn apply(
    current: Current<'_>,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
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
            None => {
                return Err(ValidationError::not_found(format!(
                    "timer {} not found",
                    cmd.key()
                )));
            }
        }
    }
    let stale = current.is_some_and(|(r, _)| seq <= r.generation);
    match &cmd.body {
        CommandBody::Upsert { spec } => {
            if stale {
                return Ok(Applied::Unchanged);
            }
            let created_at = live.map_or(now, |(r, _)| r.created_at);
            Ok(Applied::Changed(Box::new(define(
                cmd,
                spec.clone(),
                seq,
                accepted_at,
                created_at,
                now,
            ))))
        }
        CommandBody::Patch { patch } => {
            let Some((record, _)) = live else {
                return Err(ValidationError::not_found(format!(
                    "timer {} not found",
                    cmd.key()
                )));
            };
            if stale {
                return Ok(Applied::Unchanged);
            }
            Ok(Applied::Changed(Box::new(patched(
                record,
                patch,
                cmd,
                seq,
                accepted_at,
                now,
            )?)))
        }
        CommandBody::Delete => {
            let Some((record, _)) = live else {
                return Err(ValidationError::not_found(format!(
                    "timer {} not found",
                    cmd.key()
                )));
            };
            if stale {
                return Ok(Applied::Unchanged);
            }
            let mut next = record.clone();
            next.status = TimerStatus::Cancelled;
            next.generation = seq;
            next.next_fire_at = None;
            next.updated_at = now;
            Ok(Applied::Changed(Box::new(next)))
        }
        CommandBody::Report { attempt, rearm } => {
            Ok(report(live.map(|(r, _)| r), attempt, *rearm, now))
        }
    }
}

/// A fresh definition: occurrence 1, due at the schedule's first time.
fn define(
    cmd: &Command,
    spec: TimerSpec,
    seq: u64,
    anchor: DateTime<Utc>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> TimerRecord {
    let next_fire_at = spec.schedule.first_due(anchor);
    TimerRecord {
        namespace: cmd.namespace.clone(),
        id: cmd.id.clone(),
        status: if next_fire_at.is_some() {
            TimerStatus::Scheduled
        } else {
            TimerStatus::Succeeded
        },
        spec,
        generation: seq,
        occurrence: 1,
        anchor,
        next_fire_at,
        next_attempt: 1,
        occurrence_due_at: None,
        attempts: 0,
        last_result: None,
        runs: 0,
        successes: 0,
        failures: 0,
        created_at,
        updated_at: now,
    }
}

/// Applies a PATCH: `schedule` is replaced whole when given, `target` and `retry` are merged.
fn patched(
    record: &TimerRecord,
    patch: &serde_json::Value,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<TimerRecord, ValidationError> {
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
            "target" | "retry" => merge_patch(&mut doc[name.as_str()], value),
            other => {
                return Err(ValidationError::invalid(
                    other,
                    format!(
                        "unknown field `{other}`; a patch may change schedule, target and retry"
                    ),
                ));
            }
        }
    }
    let mut spec: TimerSpec = crate::error::from_json_slice(doc.to_string().as_bytes())?;
    spec.validate()?;
    let schedule_changed = spec.schedule != record.spec.schedule;
    // A timer whose occurrence is being delivered is re-armed under the new definition: the
    // worker drops attempts of the old generation, so keeping them would lose the occurrence.
    let rearm =
        schedule_changed || matches!(record.status, TimerStatus::Scheduled | TimerStatus::Running);
    if !rearm {
        let mut next = record.clone();
        next.spec = spec;
        next.generation = seq;
        next.updated_at = now;
        return Ok(next);
    }
    let mut next = define(cmd, spec, seq, accepted_at, record.created_at, now);
    if !schedule_changed {
        // Same schedule: keep the due time it already had (now, if it is in flight).
        next.anchor = record.anchor;
        next.next_fire_at = Some(record.next_fire_at.unwrap_or(now));
        next.occurrence = record.occurrence;
    }
    next.runs = record.runs;
    next.successes = record.successes;
    next.failures = record.failures;
    next.last_result = record.last_result.clone();
    Ok(next)
}

/// Applies a worker's report of one attempt. Idempotent: a redelivered report changes nothing.
fn report(
    record: Option<&TimerRecord>,
    attempt: &Attempt,
    rearm: bool,
    now: DateTime<Utc>,
) -> Applied {
    let Some(record) = record else {
        return Applied::Unchanged;
    };
    if record.generation != attempt.generation
        || record.occurrence != attempt.occurrence
        || attempt.attempt < record.attempts
    {
        return Applied::Unchanged;
    }
    if record.last_result.as_ref() == Some(attempt) || record.status.is_final() {
        return Applied::Unchanged;
    }
    let mut next = record.clone();
    next.attempts = attempt.attempt;
    next.last_result = Some(attempt.clone());
    next.updated_at = now;
    match attempt.outcome {
        AttemptOutcome::Succeeded => {
            next.status = TimerStatus::Succeeded;
            next.successes += 1;
        }
        AttemptOutcome::Failed => {
            next.status = TimerStatus::Failed;
            next.failures += 1;
        }
        AttemptOutcome::Retrying => {
            next.status = TimerStatus::Running;
            if rearm && let Some(at) = attempt.next_at {
                next.next_fire_at = Some(at);
                next.next_attempt = attempt.attempt + 1;
            }
        }
        AttemptOutcome::Rescheduled => {
            let Some(at) = attempt.next_at else {
                return Applied::Unchanged;
            };
            next.status = TimerStatus::Scheduled;
            next.occurrence += 1;
            next.next_fire_at = Some(at);
            next.next_attempt = 1;
            next.attempts = 0;
            next.successes += 1;
        }
        AttemptOutcome::Superseded => return Applied::Unchanged,
    }
    Applied::Changed(Box::new(next))
}

/// The wake-up the record is waiting for, if any: what the scheduler must have armed.
pub fn pending_wake(record: &TimerRecord) -> Option<WakeUp> {
    if !matches!(record.status, TimerStatus::Scheduled | TimerStatus::Running) {
        return None;
    }
    Some(WakeUp {
        namespace: record.namespace.clone(),
        id: record.id.clone(),
        generation: record.generation,
        occurrence: record.occurrence,
        attempt: record.next_attempt,
        due_at: record.next_fire_at?,
    })
}

/// Fires `wake` if the record still expects it: returns the fire message and the record to
/// write. `None` means the wake-up is stale (the timer changed, was deleted, or already fired).
pub fn fire(
    record: &TimerRecord,
    wake: &WakeUp,
    now: DateTime<Utc>,
) -> Option<(Fire, TimerRecord)> {
    if pending_wake(record).as_ref() != Some(wake) {
        return None;
    }
    let first_attempt = wake.attempt == 1;
    let occurrence_due_at = if first_attempt {
        wake.due_at
    } else {
        record.occurrence_due_at.unwrap_or(wake.due_at)
    };
    let message = Fire {
        namespace: record.namespace.clone(),
        id: record.id.clone(),
        generation: record.generation,
        occurrence: record.occurrence,
        attempt: wake.attempt,
        due_at: wake.due_at,
        occurrence_due_at,
    };
    let mut next = record.clone();
    next.status = TimerStatus::Running;
    next.next_fire_at = None;
    next.updated_at = now;
    if first_attempt {
        next.runs += 1;
        next.occurrence_due_at = Some(wake.due_at);
    }
    Some((message, next))
}

#[cfg(test)]
mod tests;
