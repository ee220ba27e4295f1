//! The batch request's side of submitting: its commands packed, by encoded size, into a few
//! batch messages (one stored message, one delivery, one ack and one reply for up to 1,000
//! commands), and the scheduler's errors about them named as the request's items.

use std::fmt::Display;
use std::ops::Range;

use ontime_core::command::{Batch, Command, MAX_BATCH_COMMANDS};
use ontime_core::{Namespace, ValidationError};
use ontime_nats::Names;
use uuid::Uuid;

use super::{Outcome, Outgoing, Prepared, Submitted, encode, submit_messages};
use crate::error::ApiError;
use crate::state::AppState;

/// A batch request's id for `tail`: `idem-batch/<ns>/<key>/<tail>` under an
/// `Idempotency-Key`, else a fresh UUIDv7. `tail` is an item's index (the id of a timer the
/// item does not name is derived from it) or a message's `<first>-<last>` items (its
/// `Nats-Msg-Id`: a retry packs its items as the first request did, so each message is
/// stored once). `idem-batch/` cannot collide with a single request's `idem/`, and the
/// tail is the last segment, so keys may contain `/`.
pub fn batch_id(ns: &Namespace, idempotency_key: Option<&str>, tail: impl Display) -> String {
    match idempotency_key {
        Some(key) => format!("idem-batch/{ns}/{key}/{tail}"),
        None => Uuid::now_v7().to_string(),
    }
}

/// Submits the commands of a batch request, each with its index in the request; one result
/// per command, in order.
pub async fn submit_batch(
    state: &AppState,
    namespace: &Namespace,
    idempotency_key: Option<&str>,
    items: Vec<(usize, Command)>,
) -> Vec<Result<Submitted, ApiError>> {
    // Half of what NATS accepts: the other half is for the reply, which carries every timer.
    let budget = state.topology.commands.max_payload() / 2;
    let names = state.topology.names();
    let messages = batch_messages(names, namespace, idempotency_key, &items, budget);
    let results = submit_messages(state, messages).await;
    results
        .into_iter()
        .zip(&items)
        .map(|(result, (index, _))| {
            let mut submitted = result?;
            if let Outcome::Refused(error) = submitted.outcome {
                submitted.outcome = Outcome::Refused(in_request(error, *index));
            }
            Ok(submitted)
        })
        .collect()
}

/// The messages a batch request's commands go in: consecutive commands share a batch
/// message of at most `budget` bytes; a command too large for a batch of its own goes
/// alone, as a single request's would.
fn batch_messages(
    names: &Names,
    namespace: &Namespace,
    idempotency_key: Option<&str>,
    items: &[(usize, Command)],
    budget: usize,
) -> Vec<Prepared> {
    let overhead = Batch::encode(namespace, &[] as &[&[u8]]).len();
    let bodies: Vec<Result<Vec<u8>, ApiError>> = items.iter().map(|(_, c)| encode(c)).collect();
    let sizes: Vec<Option<usize>> = bodies
        .iter()
        .map(|b| b.as_ref().ok().map(Vec::len))
        .collect();
    runs(&sizes, overhead, budget)
        .into_iter()
        .map(|Run { commands, alone }| {
            let (first, last) = (items[commands.start].0, items[commands.end - 1].0);
            let msg_id = batch_id(namespace, idempotency_key, format_args!("{first}-{last}"));
            if alone {
                let key = items[commands.start].1.key();
                let body = bodies[commands.start].clone()?;
                return Ok(Outgoing::command(names, key, msg_id, body));
            }
            let keys = items[commands.clone()]
                .iter()
                .map(|(_, c)| c.key())
                .collect();
            let encoded: Vec<&[u8]> = bodies[commands]
                .iter()
                .flatten()
                .map(Vec::as_slice)
                .collect();
            Ok(Outgoing::batch(names, namespace, keys, msg_id, &encoded))
        })
        .collect()
}

/// Consecutive commands that go in one message: a batch, or one command alone.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    commands: Range<usize>,
    alone: bool,
}

/// Groups consecutive commands, by encoded size, into batch messages of at most
/// [`MAX_BATCH_COMMANDS`] commands and `budget` bytes, `overhead` (an empty batch) included.
/// A command too large for a batch of its own goes alone, on the single-command path (which
/// answers 413 if NATS refuses it too), as does one that did not encode (size `None`).
fn runs(sizes: &[Option<usize>], overhead: usize, budget: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, overhead);
    for (i, size) in sizes.iter().copied().enumerate() {
        let Some(size) = size.filter(|size| overhead + size <= budget) else {
            close(&mut runs, start..i);
            runs.push(Run {
                commands: i..i + 1,
                alone: true,
            });
            (start, bytes) = (i + 1, overhead);
            continue;
        };
        // A comma before every command but the first.
        let grown = bytes + size + usize::from(i > start);
        if grown > budget || i - start == MAX_BATCH_COMMANDS {
            close(&mut runs, start..i);
            (start, bytes) = (i, overhead + size);
        } else {
            bytes = grown;
        }
    }
    close(&mut runs, start..sizes.len());
    runs
}

fn close(runs: &mut Vec<Run>, commands: Range<usize>) {
    if !commands.is_empty() {
        runs.push(Run {
            commands,
            alone: false,
        });
    }
}

/// An error about command `k` of a batch names its field `commands[k].spec.…` (or
/// `commands[k].id`); the client sent that command as item `index` of its request, a spec
/// beside an `id`, so it reads `timers[<index>].…`, as the gateway's own validation says.
/// Other errors (about the whole batch, or the state of the timer) are left as they are.
fn in_request(mut error: ValidationError, index: usize) -> ValidationError {
    match error
        .field
        .as_deref()
        .and_then(item_field)
        .map(str::to_owned)
    {
        Some(field) => {
            error.field = Some(field);
            error.within(&format!("timers[{index}]"))
        }
        None => error,
    }
}

/// `x.y` for `commands[k].spec.x.y`, `id` for `commands[k].id`, `` for `commands[k]`.
fn item_field(field: &str) -> Option<&str> {
    let (k, rest) = field.strip_prefix("commands[")?.split_once(']')?;
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = match rest.strip_prefix(".spec") {
        Some(inner) if inner.is_empty() || inner.starts_with('.') => inner,
        _ => rest,
    };
    Some(rest.strip_prefix('.').unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_ids_are_stable_under_a_key() {
        let ns = Namespace::parse("billing").unwrap();
        assert_eq!(batch_id(&ns, Some("k/1"), 2), "idem-batch/billing/k/1/2");
        assert_eq!(
            batch_id(&ns, Some("k/1"), format_args!("{}-{}", 2, 7)),
            "idem-batch/billing/k/1/2-7"
        );
        assert_ne!(batch_id(&ns, None, 0), batch_id(&ns, None, 0));
    }

    #[test]
    fn runs_fill_batches_to_the_budget_and_send_the_rest_alone() {
        let ns = Namespace::parse("ns").unwrap();
        let overhead = Batch::encode(&ns, &[] as &[&[u8]]).len();
        let ten = [b'1'; 10];
        // What `runs` counts is what the batch weighs: a comma between commands.
        assert_eq!(Batch::encode(&ns, &[ten, ten]).len(), overhead + 21);
        let batch = |commands| Run {
            commands,
            alone: false,
        };
        let alone = |i: usize| Run {
            commands: i..i + 1,
            alone: true,
        };
        let budget = overhead + 21;
        assert_eq!(
            runs(&[Some(10); 3], overhead, budget),
            [batch(0..2), batch(2..3)]
        );
        assert_eq!(
            runs(
                &[Some(10), Some(22), None, Some(10), Some(10)],
                overhead,
                budget
            ),
            [batch(0..1), alone(1), alone(2), batch(3..5)]
        );
        assert_eq!(
            runs(&vec![Some(1); 2500], overhead, usize::MAX / 2),
            [batch(0..1000), batch(1000..2000), batch(2000..2500)]
        );
        assert!(runs(&[], overhead, budget).is_empty());
    }

    #[test]
    fn errors_about_a_command_of_a_batch_name_the_request_item() {
        let field = |field: Option<&str>| {
            let mut error = ValidationError::not_found("x");
            error.field = field.map(str::to_owned);
            in_request(error, 7).field
        };
        for (theirs, ours) in [
            ("commands[3].spec.schedule.at", "timers[7].schedule.at"),
            ("commands[0].id", "timers[7].id"),
            ("commands[12]", "timers[7]"),
            ("commands[1].spec", "timers[7]"),
            ("commands[1].specs", "timers[7].specs"),
            ("commands", "commands"),
            ("commands[x].id", "commands[x].id"),
            ("v", "v"),
        ] {
            assert_eq!(field(Some(theirs)).as_deref(), Some(ours), "{theirs}");
        }
        assert_eq!(field(None), None);
    }
}
