//! Submitting commands: publish, await JetStream's ack, await the scheduler's reply.
//!
//! Everything is done for many commands at once (a batch is the general case, a single
//! request a batch of one): all are published before any ack is awaited, the acks are
//! awaited together, and the replies share one deadline. No per-command round trip is
//! sequential, which is what lets one batch request carry thousands of creates per second.

use std::future::IntoFuture;

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::publish::PublishAck;
use bytes::Bytes;
use futures::StreamExt;
use ontime_core::command::{Command, Reply};
use ontime_core::timer::TimerView;
use ontime_core::{Namespace, TimerKey, ValidationError};
use ontime_nats::headers;
use tokio::time::{Instant, timeout_at};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// How many duplicate commands' current state is read from KV at once.
const DUPLICATE_READS: usize = 32;

/// A command ready to go: what to publish and under which de-duplication id.
pub struct Submission {
    pub command: Command,
    /// `Nats-Msg-Id`; also the command id the client sees in a 202.
    pub command_id: String,
}

/// What became of a submitted command.
#[derive(Debug)]
pub enum Outcome {
    /// The scheduler applied it; this is the timer now.
    Applied(TimerView),
    /// The scheduler refused it (404, 409, 422).
    Refused(ValidationError),
    /// JetStream had already seen this command id (a retried request with the same
    /// `Idempotency-Key`): no reply will come. The timer as stored now, if it exists yet.
    Duplicate(Option<TimerView>),
    /// Durable, but the reply did not come in time: it will be applied.
    Pending,
}

/// Where a command went.
#[derive(Debug)]
pub struct Submitted {
    pub command_id: String,
    pub outcome: Outcome,
}

/// The command id for a request: `idem/<ns>/<key>` when the client gave an
/// `Idempotency-Key` (so a retry is de-duplicated by JetStream), else a fresh UUIDv7.
pub fn command_id(ns: &Namespace, idempotency_key: Option<&str>) -> String {
    match idempotency_key {
        Some(key) => format!("idem/{ns}/{key}"),
        None => Uuid::now_v7().to_string(),
    }
}

/// The command id of item `index` of a batch. `idem-batch/` cannot collide with a single
/// request's `idem/`, and the index is the last segment, so keys may contain `/`.
pub fn batch_command_id(ns: &Namespace, idempotency_key: Option<&str>, index: usize) -> String {
    match idempotency_key {
        Some(key) => format!("idem-batch/{ns}/{key}/{index}"),
        None => Uuid::now_v7().to_string(),
    }
}

/// The id of a timer created without one. Under an `Idempotency-Key` it is derived from the
/// command id, so a retried request names the same timer as the first one did.
pub fn new_timer_id(command_id: &str, idempotent: bool) -> String {
    // A fixed namespace for ontime's name-based (v5) ids.
    const IDS: Uuid = Uuid::from_u128(0x0b1e_7c1d_6f0e_4d8a_9a3b_5c2e_8f4d_1a60);
    if idempotent {
        Uuid::new_v5(&IDS, command_id.as_bytes()).to_string()
    } else {
        Uuid::now_v7().to_string()
    }
}

/// Submits one command.
pub async fn submit(state: &AppState, submission: Submission) -> Result<Submitted, ApiError> {
    submit_all(state, vec![submission])
        .await
        .pop()
        .unwrap_or_else(|| Err(ApiError::internal("submitting", "no result")))
}

/// Submits many commands; one result per command, in order. The whole call lasts at most
/// `2 × ack_timeout + reply_timeout` (an ack that does not come is asked for once more).
pub async fn submit_all(
    state: &AppState,
    submissions: Vec<Submission>,
) -> Vec<Result<Submitted, ApiError>> {
    let js = &state.topology.js;
    let names = state.topology.names();
    let ack_deadline = Instant::now() + state.config.ack_timeout;
    // While disconnected the client would buffer the commands and send them on reconnect,
    // long after the client was told 503: refuse at once instead.
    let connection = state.topology.client.connection_state();
    if connection != async_nats::connection::State::Connected {
        return submissions
            .iter()
            .map(|_| {
                Err(ApiError::unavailable(format!(
                    "NATS is {connection}; try again"
                )))
            })
            .collect();
    }

    // 1. Publish everything. Each waiter is registered before its publish: a fast scheduler
    //    may reply before the ack is back.
    let mut published = Vec::with_capacity(submissions.len());
    for Submission {
        command,
        command_id,
    } in submissions
    {
        let key = command.key();
        let body = match serde_json::to_vec(&command) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                published.push(Err(ApiError::internal("encoding a command", e)));
                continue;
            }
        };
        let waiter = state.replies.register();
        let mut hdrs = async_nats::HeaderMap::new();
        hdrs.insert(headers::MSG_ID, command_id.as_str());
        hdrs.insert(headers::REPLY_TO, waiter.subject.as_str());
        let message = (names.cmd_subject(&key), hdrs, body);
        published.push(match publish(js, &message, ack_deadline).await {
            Ok(ack) => Ok((key, command_id, waiter, ack, message)),
            Err(e) => Err(e),
        });
    }

    // 2. Await every ack together. One that does not come in time is asked for again: the
    //    same message, published again under the same `Nats-Msg-Id`, is stored at most once,
    //    and its ack tells whether the first one was (a duplicate) or it is now. A 503 would
    //    tell the client "try again" about a command that may well be stored already.
    let acks = futures::future::join_all(published.into_iter().map(|item| async move {
        let (key, command_id, waiter, ack, message) = item?;
        match timeout_at(ack_deadline, ack.into_future()).await {
            Ok(Ok(ack)) => return Ok((key, command_id, waiter, ack, false)),
            Ok(Err(e)) if e.kind() != PublishErrorKind::TimedOut => {
                return Err(publish_error(e.kind(), &e));
            }
            _ => {}
        }
        let again = Instant::now() + state.config.ack_timeout;
        let ack = publish(js, &message, again).await?;
        match timeout_at(again, ack.into_future()).await {
            Ok(Ok(ack)) => Ok((key, command_id, waiter, ack, true)),
            Ok(Err(e)) => Err(publish_error(e.kind(), &e)),
            Err(_) => Err(ApiError::unavailable(
                "NATS did not acknowledge the command in time; try again",
            )),
        }
    }))
    .await;

    // 3. Await the replies, all under one deadline.
    let reply_deadline = Instant::now() + state.config.reply_timeout;
    let results = futures::stream::iter(acks)
        .map(|acked| async move {
            let (key, command_id, waiter, ack, resent): (TimerKey, String, _, PublishAck, bool) =
                acked?;
            // A duplicate of our own first publish (resent) is this command: its reply comes.
            let outcome = if ack.duplicate && !resent {
                drop(waiter);
                Outcome::Duplicate(current(state, &key).await)
            } else {
                match waiter.wait_until(reply_deadline).await {
                    Some(reply) => outcome_of(reply),
                    None => Outcome::Pending,
                }
            };
            Ok(Submitted {
                command_id,
                outcome,
            })
        })
        // Ordered, so results line up with submissions; concurrency only matters for the
        // KV reads of duplicates, since replies are already on their way.
        .buffered(DUPLICATE_READS);
    results.collect().await
}

/// Publishes a command, bounded by `deadline`: while NATS is unreachable the client buffers,
/// and nothing else would end the wait.
async fn publish(
    js: &async_nats::jetstream::Context,
    (subject, hdrs, body): &(String, async_nats::HeaderMap, Bytes),
    deadline: Instant,
) -> Result<PublishAckFuture, ApiError> {
    let sent = timeout_at(
        deadline,
        js.publish_with_headers(subject.clone(), hdrs.clone(), body.clone()),
    )
    .await;
    match sent {
        Ok(Ok(ack)) => Ok(ack),
        Ok(Err(e)) => Err(publish_error(e.kind(), &e)),
        Err(_) => Err(ApiError::unavailable(
            "NATS did not take the command in time; try again",
        )),
    }
}

fn outcome_of(reply: Reply) -> Outcome {
    match reply {
        Reply {
            ok: true,
            timer: Some(timer),
            ..
        } => Outcome::Applied(timer),
        Reply {
            error: Some(error), ..
        } => Outcome::Refused(error),
        // An applied command without the state (not one the gateway sends): report it as
        // accepted rather than guess.
        Reply { .. } => Outcome::Pending,
    }
}

/// The timer as stored now; `None` when absent or unreadable (the command is durable anyway).
async fn current(state: &AppState, key: &TimerKey) -> Option<TimerView> {
    match state.topology.timers.get(key).await {
        Ok(slot) => slot.record.map(|r| r.view(slot.revision)),
        Err(e) => {
            tracing::warn!(error = %e, timer = %key, "reading a duplicate command's timer failed");
            None
        }
    }
}

fn publish_error(kind: PublishErrorKind, detail: &dyn std::fmt::Display) -> ApiError {
    if kind == PublishErrorKind::MaxPayloadExceeded {
        return ApiError::new(
            ontime_core::ErrorCode::PayloadTooLarge,
            "the command is larger than NATS accepts",
        );
    }
    tracing::warn!(%detail, "publishing a command failed");
    ApiError::unavailable("NATS did not accept the command; try again")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_requests_have_stable_ids() {
        let ns = Namespace::parse("billing").unwrap();
        assert_eq!(command_id(&ns, Some("k1")), "idem/billing/k1");
        assert_ne!(command_id(&ns, None), command_id(&ns, None));
        assert_eq!(
            batch_command_id(&ns, Some("k/1"), 2),
            "idem-batch/billing/k/1/2"
        );
        let id = new_timer_id("idem/billing/k1", true);
        assert_eq!(id, new_timer_id("idem/billing/k1", true));
        assert_ne!(id, new_timer_id("idem/billing/k2", true));
        assert!(ontime_core::TimerId::parse(&id).is_ok());
        assert_ne!(new_timer_id("x", false), new_timer_id("x", false));
    }

    #[test]
    fn replies_become_outcomes() {
        let refused = outcome_of(Reply::failed(ValidationError::not_found("gone")));
        assert!(
            matches!(refused, Outcome::Refused(e) if e.code == ontime_core::ErrorCode::NotFound)
        );
        assert!(matches!(
            outcome_of(Reply {
                ok: true,
                timer: None,
                error: None
            }),
            Outcome::Pending
        ));
    }
}
