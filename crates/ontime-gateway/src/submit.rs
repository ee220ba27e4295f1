//! Submitting commands: publish, await JetStream's ack, await the scheduler's reply.
//!
//! A single request publishes one command; a batch request packs its commands into a few
//! batch messages, each of which costs one stored message, one delivery, one ack and one
//! reply for up to 1,000 commands. Both go through one path, done for many messages at
//! once: all are published before any ack is awaited, the acks are awaited together, and
//! the replies share one deadline. No round trip is sequential, which is what lets one
//! batch request carry thousands of creates per second.

use std::future::IntoFuture;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use ontime_core::command::{Batch, BatchReply, Command, Reply};
use ontime_core::idempotency::{Idempotency, fingerprint, reused};
use ontime_core::timer::TimerView;
use ontime_core::{Namespace, TimerKey, ValidationError};
use ontime_nats::Names;
use ontime_nats::NatsError;
use ontime_nats::commands::{Accepted, Sent};
use serde::de::DeserializeOwned;
use tokio::time::{Instant, timeout_at};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

mod batch;

pub use batch::{batch_id, submit_batch};

/// How many duplicate commands' current state is read from KV at once.
const DUPLICATE_READS: usize = 32;

/// A command ready to go: what to publish and under which de-duplication id.
pub struct Submission {
    pub command: Command,
    /// `Nats-Msg-Id`; also the command id the client sees in a 202.
    pub command_id: String,
    /// The client's `Idempotency-Key`, if it sent one: the command then carries it with the
    /// request's fingerprint, so that the key answers a retry and refuses another request.
    pub idempotency_key: Option<String>,
}

/// What became of a submitted command.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The scheduler applied it; this is the timer now.
    Applied(TimerView),
    /// The scheduler refused it (404, 409, 422).
    Refused(ValidationError),
    /// JetStream had already seen this command id (a retried batch under the same
    /// `Idempotency-Key`): no reply will come. The timer as stored now, if it exists yet.
    Duplicate(Option<TimerView>),
    /// Durable, but the reply did not come in time: it will be applied.
    Pending,
}

/// Where a command went.
#[derive(Debug)]
pub struct Submitted {
    pub command_id: String,
    /// The timer the command is about.
    pub key: TimerKey,
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
    let Submission {
        mut command,
        command_id,
        idempotency_key,
    } = submission;
    // The fingerprint is taken before sealing: a sealed secret differs at every try.
    command.idempotency = idempotency_key.map(|key| Idempotency {
        fingerprint: fingerprint(&command),
        key,
    });
    crate::protect::command(state, &mut command)?;
    let message = encode(&command).map(|body| {
        let mut message =
            Outgoing::command(state.topology.names(), command.key(), command_id, body);
        message.idempotency = command.idempotency.clone();
        message
    });
    submit_messages(state, vec![message])
        .await
        .pop()
        .unwrap_or_else(|| Err(ApiError::internal("submitting", "no result")))
}

/// A message to publish: one command on its timer's subject, or a batch of commands on
/// their namespace's.
struct Outgoing {
    subject: String,
    /// `Nats-Msg-Id`; also the command id each of its commands reports in a 202.
    msg_id: String,
    body: Bytes,
    /// Its commands' timers, in order: read back when the message is a duplicate.
    keys: Vec<TimerKey>,
    /// Whether the reply is a [`BatchReply`] rather than a [`Reply`].
    batch: bool,
    /// The key and fingerprint of a single command sent under an `Idempotency-Key`: a
    /// duplicate is answered from what the key's first request came to.
    idempotency: Option<Idempotency>,
}

impl Outgoing {
    fn command(names: &Names, key: TimerKey, msg_id: String, body: Vec<u8>) -> Self {
        Self {
            subject: names.cmd_subject(&key),
            msg_id,
            body: Bytes::from(body),
            keys: vec![key],
            batch: false,
            idempotency: None,
        }
    }

    fn batch(
        names: &Names,
        namespace: &Namespace,
        keys: Vec<TimerKey>,
        msg_id: String,
        commands: &[&[u8]],
    ) -> Self {
        Self {
            subject: names.cmd_batch_subject(namespace),
            msg_id,
            body: Bytes::from(Batch::encode(namespace, commands)),
            keys,
            batch: true,
            idempotency: None,
        }
    }
}

/// A message to publish, or why it could not be made (it then stands for one command).
type Prepared = Result<Outgoing, ApiError>;

/// What came of a published message.
struct Delivery {
    /// JetStream had stored it before this request (a retried request with the same
    /// `Idempotency-Key`): no reply comes.
    duplicate: bool,
    /// The scheduler's reply; `None` if none came in time.
    reply: Option<Bytes>,
}

/// What a command came to; `None` for a duplicate, for which no reply comes: it is answered
/// from what its idempotency key remembers, or (a batch) from its timer as stored.
type Answer = Option<Outcome>;

/// One command of a delivered message: its message's id, its timer, what it came to, and
/// the idempotency it was sent under.
#[derive(Clone)]
struct Delivered {
    command_id: String,
    key: TimerKey,
    answer: Answer,
    idempotency: Option<Idempotency>,
}

/// A command's wire form, in the trace of the request that sends it (if it has one).
fn encode(command: &Command) -> Result<Vec<u8>, ApiError> {
    let traced;
    let command = match crate::trace::current() {
        Some(trace) if command.trace.is_none() => {
            traced = Command {
                trace: Some(trace),
                ..command.clone()
            };
            &traced
        }
        _ => command,
    };
    serde_json::to_vec(command).map_err(|e| ApiError::internal("encoding a command", e))
}

/// Publishes `messages` and answers for each of their commands, in order.
async fn submit_messages(
    state: &AppState,
    messages: Vec<Prepared>,
) -> Vec<Result<Submitted, ApiError>> {
    let deliveries = deliver(state, &messages).await;
    let commands: Vec<_> = messages
        .into_iter()
        .zip(deliveries)
        .flat_map(|(message, delivery)| each_command(message, delivery))
        .collect();
    futures::stream::iter(commands)
        .map(|command| async move {
            let Delivered {
                command_id,
                key,
                answer,
                idempotency,
            } = command?;
            let outcome = match (answer, idempotency) {
                (Some(outcome), _) => outcome,
                (None, Some(idempotency)) => remembered(state, &key, &idempotency).await,
                (None, None) => Outcome::Duplicate(current(state, &key).await),
            };
            Ok(Submitted {
                command_id,
                key,
                outcome,
            })
        })
        // Ordered, so results line up with the commands; concurrency only matters for the
        // KV reads of duplicates, since the replies are in already.
        .buffered(DUPLICATE_READS)
        .collect()
        .await
}

/// Publishes every message, awaits their acks together and their replies under one
/// deadline; one delivery per message, in order. Lasts at most `2 × ack_timeout +
/// reply_timeout` (an ack that does not come is asked for once more).
async fn deliver(state: &AppState, messages: &[Prepared]) -> Vec<Result<Delivery, ApiError>> {
    let ack_deadline = Instant::now() + state.config.ack_timeout;
    // While disconnected the client would buffer the commands and send them on reconnect,
    // long after the client was told 503: refuse at once instead.
    let commands = &state.topology.commands;
    if !commands.connected() {
        let connection = commands.connection();
        return messages
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
    let mut published = Vec::with_capacity(messages.len());
    for message in messages {
        published.push(match message {
            Ok(message) => {
                let waiter = state.replies.register();
                publish(state, message, &waiter.subject, ack_deadline)
                    .await
                    .map(|ack| (message, waiter, ack))
            }
            Err(e) => Err(e.clone()),
        });
    }

    // 2. Await every ack together; one that does not come in time is asked for again.
    let acks = futures::future::join_all(published.into_iter().map(|sent| async move {
        let (message, waiter, ack) = sent?;
        let (ack, resent) =
            acknowledged(state, message, &waiter.subject, ack, ack_deadline).await?;
        Ok::<_, ApiError>((waiter, ack, resent))
    }))
    .await;

    // 3. Await the replies, all under one deadline.
    let reply_deadline = Instant::now() + state.config.reply_timeout;
    futures::future::join_all(acks.into_iter().map(|acked| async move {
        let (waiter, ack, resent) = acked?;
        // A duplicate of our own first publish (resent) is this message: its reply comes.
        let duplicate = ack.duplicate && !resent;
        let reply = if duplicate {
            None
        } else {
            waiter.wait_until(reply_deadline).await
        };
        Ok(Delivery { duplicate, reply })
    }))
    .await
}

/// The ack of a published message, and whether it took publishing it again. One that does
/// not come by `deadline` is asked for again: the same message, published again under the
/// same `Nats-Msg-Id`, is stored at most once, and its ack tells whether the first one was
/// (a duplicate) or it is now. A 503 would tell the client "try again" about commands that
/// may well be stored already.
async fn acknowledged(
    state: &AppState,
    message: &Outgoing,
    reply_to: &str,
    ack: Sent,
    deadline: Instant,
) -> Result<(Accepted, bool), ApiError> {
    let commands = &state.topology.commands;
    match timeout_at(deadline, ack.into_future()).await {
        Ok(Ok(ack)) => return Ok((ack, false)),
        Ok(Err(NatsError::TimedOut)) => {}
        Err(_) => commands.unanswered().await,
        Ok(Err(e)) => return Err(publish_error(e)),
    }
    let again = Instant::now() + state.config.ack_timeout;
    let ack = publish(state, message, reply_to, again).await?;
    match timeout_at(again, ack.into_future()).await {
        Ok(Ok(ack)) => Ok((ack, true)),
        Ok(Err(e)) => Err(publish_error(e)),
        Err(_) => {
            commands.unanswered().await;
            Err(ApiError::unavailable(
                "NATS did not acknowledge the command in time; try again",
            ))
        }
    }
}

/// Publishes a message, bounded by `deadline`: while NATS is unreachable the client buffers,
/// and nothing else would end the wait.
async fn publish(
    state: &AppState,
    message: &Outgoing,
    reply_to: &str,
    deadline: Instant,
) -> Result<Sent, ApiError> {
    let sent = timeout_at(
        deadline,
        state.topology.commands.publish(
            message.subject.clone(),
            &message.msg_id,
            Some(reply_to),
            message.body.clone(),
        ),
    )
    .await;
    match sent {
        Ok(Ok(ack)) => Ok(ack),
        Ok(Err(e)) => Err(publish_error(e)),
        Err(_) => Err(ApiError::unavailable(
            "NATS did not take the command in time; try again",
        )),
    }
}

/// What each command of a message came to, with the message's id and the command's timer.
fn each_command(
    message: Prepared,
    delivery: Result<Delivery, ApiError>,
) -> Vec<Result<Delivered, ApiError>> {
    let (message, delivery) = match (message, delivery) {
        (Ok(message), Ok(delivery)) => (message, delivery),
        (Ok(message), Err(e)) => return vec![Err(e); message.keys.len()],
        (Err(e), _) => return vec![Err(e)],
    };
    let answers = answers(&message, delivery);
    let Outgoing {
        msg_id,
        keys,
        idempotency,
        ..
    } = message;
    keys.into_iter()
        .zip(answers)
        .map(|(key, answer)| {
            Ok(Delivered {
                command_id: msg_id.clone(),
                key,
                answer,
                idempotency: idempotency.clone(),
            })
        })
        .collect()
}

/// What each command of a delivered message came to, in order. A batch refused whole refuses
/// each of its commands; a batch reply that does not have one result per command says
/// nothing of any (they are durable: accepted).
fn answers(message: &Outgoing, delivery: Delivery) -> Vec<Answer> {
    let count = message.keys.len();
    let every = |outcome| vec![Some(outcome); count];
    if delivery.duplicate {
        return vec![None; count];
    }
    let Some(reply) = delivery.reply else {
        return every(Outcome::Pending);
    };
    if !message.batch {
        return every(read::<Reply>(&reply).map_or_else(Outcome::Refused, outcome_of));
    }
    match read::<BatchReply>(&reply) {
        Ok(BatchReply {
            error: Some(error), ..
        })
        | Err(error) => every(Outcome::Refused(error)),
        Ok(BatchReply { results, .. }) if results.len() == count => results
            .into_iter()
            .map(|reply| Some(outcome_of(reply)))
            .collect(),
        Ok(BatchReply { results, .. }) => {
            tracing::warn!(
                commands = count,
                results = results.len(),
                "a batch reply without one result per command; reporting them accepted"
            );
            every(Outcome::Pending)
        }
    }
}

/// A scheduler's reply. One that does not read is an internal error (its detail logged).
fn read<T: DeserializeOwned>(reply: &[u8]) -> Result<T, ValidationError> {
    serde_json::from_slice(reply)
        .map_err(|e| ApiError::internal("a scheduler's reply is not readable", e).0)
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

/// How often the answer to a retried request is looked for while its first request is
/// still being applied.
const REMEMBERED_POLL: Duration = Duration::from_millis(50);

/// The answer to a retried request, whose command JetStream de-duplicated: what its key's
/// first request came to once applied (that request's answer, or a refusal when the key was
/// first used for another request). Until it is applied, or if that takes longer than the
/// reply timeout, the request is only accepted: never answered as applied before it is.
async fn remembered(state: &AppState, key: &TimerKey, idempotency: &Idempotency) -> Outcome {
    let deadline = Instant::now() + state.config.reply_timeout;
    loop {
        let first = state
            .topology
            .idempotency
            .get(&key.namespace, &idempotency.key)
            .await;
        match first {
            Ok(Some(first)) if first.fingerprint != idempotency.fingerprint => {
                return Outcome::Refused(reused(&idempotency.key));
            }
            Ok(Some(first)) => return outcome_of(first.reply),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, timer = %key, "reading an idempotency key failed");
            }
        }
        if Instant::now() + REMEMBERED_POLL > deadline {
            return Outcome::Pending;
        }
        tokio::time::sleep(REMEMBERED_POLL).await;
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

fn publish_error(e: NatsError) -> ApiError {
    if let NatsError::TooLarge = e {
        return ApiError::new(
            ontime_core::ErrorCode::PayloadTooLarge,
            "the command is larger than NATS accepts",
        );
    }
    tracing::warn!(error = %e, "publishing a command failed");
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

    /// A batch message of `count` commands, delivered with `reply` (a duplicate if `None`).
    fn delivered(count: usize, reply: Option<&[u8]>) -> Vec<&'static str> {
        let ns = Namespace::parse("ns").unwrap();
        let keys = (0..count)
            .map(|i| {
                TimerKey::new(
                    ns.clone(),
                    ontime_core::TimerId::parse(&i.to_string()).unwrap(),
                )
            })
            .collect();
        let names = Names::new("t").unwrap();
        let message = Outgoing::batch(&names, &ns, keys, "m".into(), &[]);
        let delivery = Delivery {
            duplicate: reply.is_none(),
            reply: reply.map(Bytes::copy_from_slice),
        };
        answers(&message, delivery)
            .iter()
            .map(|answer| match answer {
                None => "duplicate",
                Some(Outcome::Applied(_)) => "applied",
                Some(Outcome::Refused(e)) if e.code == ontime_core::ErrorCode::Internal => {
                    "internal"
                }
                Some(Outcome::Refused(_)) => "refused",
                Some(Outcome::Duplicate(_)) => "read",
                Some(Outcome::Pending) => "pending",
            })
            .collect()
    }

    #[test]
    fn a_batch_reply_answers_each_command_or_all_of_them() {
        let reply = |results: Vec<Reply>, error: Option<ValidationError>| {
            serde_json::to_vec(&BatchReply { results, error }).unwrap()
        };
        let gone = || Reply::failed(ValidationError::not_found("gone"));
        let refused = ValidationError::invalid("v", "unsupported");
        assert_eq!(
            delivered(2, Some(&reply(vec![Reply::pending(), gone()], None))),
            ["pending", "refused"]
        );
        assert_eq!(
            delivered(2, Some(&reply(vec![], Some(refused)))),
            ["refused", "refused"]
        );
        assert_eq!(
            delivered(2, Some(&reply(vec![gone()], None))),
            ["pending", "pending"],
            "a result count that does not match says nothing"
        );
        assert_eq!(delivered(2, Some(b"{")), ["internal", "internal"]);
        assert_eq!(delivered(2, None), ["duplicate", "duplicate"]);
    }
}
