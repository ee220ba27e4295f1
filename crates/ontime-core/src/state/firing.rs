//! Firing: which wake-up a record waits for, and what firing it produces, misfire, overlap
//! and `max_runs` applied.

use chrono::{DateTime, Utc};

use super::{Outcome, settled, track, wire_name};
use crate::fire::{Fire, WakeUp};
use crate::schedule::{MAX_CATCH_UP, MISFIRE_THRESHOLD, Misfire, Overlap};
use crate::timer::{Attempt, AttemptOutcome, TimerRecord, TimerStatus, delivery_id};

/// How many missed occurrences a misfire scan walks through before it jumps to now.
const MAX_MISFIRE_SCAN: usize = 100_000;

/// The wake-up the record is waiting for, if any: what the scheduler must have armed. Of the
/// scheduled occurrence and the held retries, the earliest.
pub fn pending_wake(record: &TimerRecord) -> Option<WakeUp> {
    if !matches!(
        record.status,
        TimerStatus::Scheduled | TimerStatus::Running | TimerStatus::Paused
    ) {
        return None;
    }
    let wake = |occurrence, attempt, due_at| WakeUp {
        namespace: record.namespace.clone(),
        id: record.id.clone(),
        generation: record.generation,
        occurrence,
        attempt,
        due_at,
    };
    let retry = record
        .retries
        .first()
        .map(|r| wake(r.occurrence, r.attempt, r.at));
    let scheduled = record
        .next_fire_at
        .filter(|_| record.status != TimerStatus::Paused)
        .map(|at| wake(record.occurrence, 1, at));
    match (retry, scheduled) {
        (Some(r), Some(s)) => Some(if s.due_at < r.due_at { s } else { r }),
        (r, s) => r.or(s),
    }
}

/// Fires `wake` if the record still expects it: returns the fire messages, the log entries
/// and the record to write. `None` means the wake-up is stale (the timer changed, was
/// deleted, or already fired).
pub fn fire(record: &TimerRecord, wake: &WakeUp, now: DateTime<Utc>) -> Option<Outcome> {
    if wake.generation != record.generation
        || !matches!(
            record.status,
            TimerStatus::Scheduled | TimerStatus::Running | TimerStatus::Paused
        )
    {
        return None;
    }
    if wake.attempt > 1 {
        return fire_retry(record, wake, now);
    }
    if record.status == TimerStatus::Paused
        || wake.occurrence != record.occurrence
        || record.next_fire_at != Some(wake.due_at)
    {
        return None;
    }
    Some(fire_scheduled(record, wake.due_at, now))
}

fn fire_retry(record: &TimerRecord, wake: &WakeUp, now: DateTime<Utc>) -> Option<Outcome> {
    let i = record.retries.iter().position(|r| {
        r.occurrence == wake.occurrence && r.attempt == wake.attempt && r.at == wake.due_at
    })?;
    let mut next = record.clone();
    let held = next.retries.remove(i);
    next.updated_at = now;
    next.status = settled(&next);
    let fire = Fire {
        namespace: record.namespace.clone(),
        id: record.id.clone(),
        generation: record.generation,
        occurrence: held.occurrence,
        attempt: held.attempt,
        due_at: held.at,
        occurrence_due_at: held.occurrence_due_at,
        // A held retry does not say whether its occurrence was an ad hoc run: an answer that
        // voids scheduled occurrences voids its later retries too.
        triggered: false,
        command: record.spec.target.command.is_some(),
        replay: false,
        trace: record.trace,
        fan_out: held
            .subscriber
            .as_ref()
            .and_then(|_| {
                record
                    .fan_outs
                    .iter()
                    .find(|f| f.occurrence == held.occurrence)
            })
            .map_or(0, |f| f.subscribers),
        subscriber: held.subscriber,
    };
    Some(Outcome {
        fires: vec![fire],
        ..Outcome::of(next)
    })
}

/// Fires the scheduled occurrence due at `due_at` and moves the schedule on, applying the
/// misfire policy when it is late by more than [`MISFIRE_THRESHOLD`], `max_runs`, and the
/// overlap policy.
pub(super) fn fire_scheduled(
    record: &TimerRecord,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Outcome {
    let schedule = &record.spec.schedule;
    let mut next = record.clone();
    next.updated_at = now;
    // The occurrences due now: this one, and, when it was missed, every later one missed too,
    // each with its position among them. An occurrence's number is the record's next number
    // plus its position, whatever is decided about it: two schedulers deciding differently
    // (at different instants) still give each due instant the same identity, so a repeat is
    // de-duplicated by NATS or recognised by its webhook-id, never a second occurrence.
    let base = record.occurrence;
    let mut due = std::collections::VecDeque::from([(0u64, due_at)]);
    let mut missed: u64 = 1;
    let mut following = schedule.next_after(record.anchor, due_at);
    // Missed means due more than the threshold before `now`, for each occurrence on its own:
    // the scan stops at the first one less late, which stays pending and fires as usual.
    // (Sweeping up everything due by `now` would skip occurrences only a moment late along
    // with the one that was missed.)
    let late = |at: &DateTime<Utc>| now - *at > MISFIRE_THRESHOLD;
    let misfired = schedule.is_recurring() && late(&due_at);
    if misfired {
        while let Some(at) = following.filter(late) {
            if missed as usize >= MAX_MISFIRE_SCAN {
                let threshold = now.checked_sub_signed(MISFIRE_THRESHOLD).unwrap_or(now);
                following = schedule.next_after(record.anchor, threshold);
                break;
            }
            due.push_back((missed, at));
            missed += 1;
            if due.len() > MAX_CATCH_UP {
                due.pop_front();
            }
            following = schedule.next_after(record.anchor, at);
        }
        match schedule.misfire() {
            Misfire::FireOnce => {
                due.drain(..due.len() - 1);
            }
            Misfire::Skip => due.clear(),
            Misfire::FireAll => {}
        }
    }
    if let Some(max) = schedule.max_runs {
        due.truncate(max.saturating_sub(record.scheduled_runs()) as usize);
    }
    let overlapping = schedule.overlap() == Overlap::Skip && !record.in_flight.is_empty();
    if overlapping {
        due.clear();
    } else if schedule.overlap() == Overlap::Skip {
        due.truncate(1);
    }
    let skipped = missed.saturating_sub(due.len() as u64);
    next.occurrence = base + missed;
    next.skipped += skipped;
    let mut log = Vec::new();
    if skipped > 0 {
        let reason = if overlapping {
            format!(
                "occurrence {} is still in flight (overlap: skip)",
                record.in_flight[record.in_flight.len() - 1]
            )
        } else {
            format!(
                "{skipped} occurrence(s) missed since {} (misfire: {})",
                due_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                wire_name(&schedule.misfire())
            )
        };
        // The entry is named after the first occurrence that was not called.
        let first_skipped = (0..missed)
            .find(|p| !due.iter().any(|(q, _)| q == p))
            .unwrap_or(0);
        log.push(Attempt {
            delivery_id: delivery_id(&record.key(), record.generation, base + first_skipped),
            generation: record.generation,
            occurrence: base + first_skipped,
            attempt: 0,
            due_at,
            occurrence_due_at: Some(due_at),
            started_at: now,
            latency_ms: 0,
            status_code: None,
            error: Some(reason),
            outcome: AttemptOutcome::Skipped,
            next_at: None,
            subscriber: None,
            subscribers: Vec::new(),
            fan_out: 0,
            run: None,
            note: None,
            response: None,
        });
    }
    let fires = due
        .into_iter()
        .map(|(position, at)| {
            let occurrence = base + position;
            next.runs += 1;
            track(&mut next, occurrence);
            Fire {
                namespace: record.namespace.clone(),
                id: record.id.clone(),
                generation: record.generation,
                occurrence,
                attempt: 1,
                due_at: at,
                occurrence_due_at: at,
                triggered: false,
                subscriber: None,
                fan_out: 0,
                command: record.spec.target.command.is_some(),
                replay: false,
                trace: record.trace,
            }
        })
        .collect();
    let exhausted = schedule
        .max_runs
        .is_some_and(|max| next.scheduled_runs() >= max);
    next.next_fire_at = following.filter(|_| !exhausted);
    next.status = settled(&next);
    Outcome {
        record: next,
        fires,
        log,
        deferred: !schedule.is_recurring(),
    }
}

/// Whether `attempt` is of an occurrence that fired without its record being written: the
/// record still waits for exactly that occurrence. A one-time timer's firing is always
/// recorded so (see [`Outcome::deferred`]); a recurring timer's when a command, such as a
/// pause, rewrote the record between the fire's emission and its write (the scheduler then
/// finds the paused record, fires nothing more, and leaves the firing unrecorded).
pub(super) fn fired_unrecorded(record: &TimerRecord, attempt: &Attempt) -> bool {
    record.generation == attempt.generation
        && matches!(
            record.status,
            TimerStatus::Scheduled | TimerStatus::Running | TimerStatus::Paused
        )
        && record.occurrence == attempt.occurrence
        && !record.in_flight.contains(&attempt.occurrence)
        && record.next_fire_at == Some(attempt.occurrence_due_at.unwrap_or(attempt.due_at))
}

/// The record once the scheduled occurrence due at `due_at` was called: in flight, and the
/// schedule moved on past it (within `max_runs`). Unlike [`fire_scheduled`] it decides
/// nothing: the call was made, whatever misfire or overlap would say now.
pub(super) fn record_called(
    record: &TimerRecord,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> TimerRecord {
    let schedule = &record.spec.schedule;
    let mut next = record.clone();
    next.updated_at = now;
    next.occurrence = record.occurrence + 1;
    next.runs += 1;
    track(&mut next, record.occurrence);
    let exhausted = schedule
        .max_runs
        .is_some_and(|max| next.scheduled_runs() >= max);
    next.next_fire_at = schedule
        .next_after(record.anchor, due_at)
        .filter(|_| !exhausted);
    next.status = settled(&next);
    next
}
