//! Topic occurrences: a fan-out's report opens the occurrence's fan-out with its size, each
//! subscriber's delivery report ends that delivery, and the occurrence ends when every one
//! has. Reports come in any order, so a delivery's report may open the fan-out too.

use chrono::{DateTime, Utc};

use super::{Applied, Outcome, end_occurrence, settled};
use crate::id::SubscriberId;
use crate::limits;
use crate::timer::{Attempt, AttemptOutcome, FanOut, HeldRetry, TimerRecord};

/// Applies the report that a topic occurrence was fanned out to the subscribers it names
/// (none: it is done, and succeeded).
pub(super) fn fanned_out(record: &TimerRecord, attempt: &Attempt, now: DateTime<Utc>) -> Applied {
    let occurrence = attempt.occurrence;
    if record.fan_outs.iter().any(|f| f.occurrence == occurrence) {
        return Applied::Unchanged;
    }
    let mut next = record.clone();
    next.attempts = attempt.attempt;
    next.last_result = Some(attempt.clone());
    next.updated_at = now;
    let size = u32::try_from(attempt.subscribers.len()).unwrap_or(u32::MAX);
    if size == 0 {
        end_occurrence(&mut next, occurrence);
        next.successes += 1;
    } else {
        next.fan_outs.push(FanOut {
            occurrence,
            subscribers: size,
            done: Vec::new(),
            failed: Vec::new(),
        });
    }
    next.status = settled(&next);
    Applied::Changed(Box::new(Outcome::of(next)))
}

/// Applies the report of one subscriber's delivery of a topic occurrence (it may come before
/// the fan-out's own report). The occurrence ends when every subscriber's delivery has: it
/// succeeded if none failed.
pub(super) fn delivered(
    record: &TimerRecord,
    attempt: &Attempt,
    subscriber: &SubscriberId,
    rearm: bool,
    now: DateTime<Utc>,
) -> Applied {
    let occurrence = attempt.occurrence;
    let mut next = record.clone();
    let i = match next
        .fan_outs
        .iter()
        .position(|f| f.occurrence == occurrence)
    {
        Some(i) => i,
        None if attempt.fan_out > 0 => {
            next.fan_outs.push(FanOut {
                occurrence,
                subscribers: attempt.fan_out,
                done: Vec::new(),
                failed: Vec::new(),
            });
            next.fan_outs.len() - 1
        }
        None => return Applied::Unchanged,
    };
    if next.fan_outs[i].done.contains(subscriber) {
        return Applied::Unchanged;
    }
    next.attempts = attempt.attempt;
    next.last_result = Some(attempt.clone());
    next.updated_at = now;
    if attempt.outcome == AttemptOutcome::Retrying {
        if rearm && let Some(at) = attempt.next_at.and_then(limits::bounded) {
            let retry = HeldRetry {
                occurrence,
                attempt: attempt.attempt + 1,
                at,
                occurrence_due_at: attempt.occurrence_due_at.unwrap_or(attempt.due_at),
                subscriber: Some(subscriber.clone()),
            };
            if next.retries.contains(&retry) {
                return Applied::Unchanged;
            }
            next.retries.push(retry);
            next.retries.sort_by_key(|r| r.at);
        }
    } else {
        next.retries
            .retain(|r| r.occurrence != occurrence || r.subscriber.as_ref() != Some(subscriber));
        let fan_out = &mut next.fan_outs[i];
        fan_out.done.push(subscriber.clone());
        // A subscriber removed before its delivery ends is skipped: neither success nor
        // failure.
        if attempt.outcome != AttemptOutcome::Skipped {
            next.deliveries += 1;
        }
        if matches!(
            attempt.outcome,
            AttemptOutcome::Failed | AttemptOutcome::Expired
        ) {
            fan_out.failed.push(subscriber.clone());
            next.delivery_failures += 1;
        }
        let fan_out = &next.fan_outs[i];
        if fan_out.done.len() >= fan_out.subscribers as usize {
            let failed = !fan_out.failed.is_empty();
            end_occurrence(&mut next, occurrence);
            if failed {
                next.failures += 1;
            } else {
                next.successes += 1;
            }
        }
    }
    next.status = settled(&next);
    Applied::Changed(Box::new(Outcome::of(next)))
}
