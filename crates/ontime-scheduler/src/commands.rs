//! Applying commands: decode, check, compare-and-set the record, reply, arm.

use std::sync::Arc;

use async_nats::jetstream::Message;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ontime_core::ValidationError;
use ontime_core::command::{Command, CommandBody, Reply};
use ontime_core::idempotency::{Remembered, Retry};
use ontime_core::state::{self, Applied};
use ontime_core::timer::TimerRecord;
use ontime_nats::pull::Handled;
use ontime_nats::settle::Delivery;
use ontime_nats::{NatsError, headers};

use crate::Ctx;
use crate::arm::ack;
use crate::emit;
use crate::reports::{Report, apply_group};

/// Why a command was not applied.
pub enum Failure {
    /// The command is wrong: tell the publisher, drop the command.
    Rejected(ValidationError),
    /// NATS failed: leave the command for a redelivery.
    Nats(NatsError),
}

#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn handle(ctx: Arc<Ctx>, message: Message) -> Handled {
    // Both consumers of the command stream come here: single commands and batches each
    // have one (batches are pulled a few at a time), and the subject tells which it is.
    if let Some(namespace) = ctx
        .topology
        .names()
        .namespace_of_batch_subject(&message.subject)
    {
        return crate::batch::apply_batch(ctx, message, namespace).await;
    }
    let Some((seq, accepted_at)) = position(&message) else {
        return Handled::Done;
    };
    let reply_to = reply_subject(&message);
    let subject = message.subject.to_string();
    let (message, delivery) = ontime_nats::settle::split(message);
    let cmd = match decode(&ctx, &subject, &message.payload) {
        Ok(cmd) => cmd,
        Err(e) => return conclude(&ctx, Err(Failure::Rejected(e)), reply_to, delivery).await,
    };
    let Some(idempotency) = &cmd.idempotency else {
        let outcome = apply(&ctx, &cmd, seq, accepted_at).await;
        return conclude(&ctx, outcome, reply_to, delivery).await;
    };
    let store = &ctx.topology.idempotency;
    let first = match store.get(&cmd.namespace, &idempotency.key).await {
        Ok(first) => first,
        Err(e) => return Handled::Failed(format!("reading the idempotency key: {e}")),
    };
    match first.map(|first| first.judge(idempotency, seq)) {
        None | Some(Retry::Redelivery) => {}
        Some(Retry::Answer(answer)) => {
            // The same request, sent again after JetStream's de-duplication window: it was
            // applied once, and is answered what it got then.
            metrics::counter!(crate::metrics::COMMANDS, "outcome" => "repeated").increment(1);
            send(&ctx, reply_to, &answer).await;
            ack(Some(delivery.into())).await;
            return Handled::Done;
        }
        Some(Retry::Reused(error)) => {
            return conclude(&ctx, Err(Failure::Rejected(error)), reply_to, delivery).await;
        }
    }
    let outcome = apply(&ctx, &cmd, seq, accepted_at).await;
    // Remembered before anyone is answered: a retry that JetStream de-duplicates is
    // answered from this entry, so it must say what was applied, never more.
    let answer = match &outcome {
        Ok(Some((record, revision))) => Reply::applied(record.view(*revision)),
        Ok(None) => Reply::failed(ValidationError::not_found(format!(
            "timer {} not found",
            cmd.key()
        ))),
        Err(Failure::Rejected(error)) => Reply::failed(error.clone()),
        Err(Failure::Nats(_)) => return conclude(&ctx, outcome, reply_to, delivery).await,
    };
    let remembered = Remembered {
        fingerprint: idempotency.fingerprint.clone(),
        seq,
        reply: answer,
    };
    match store
        .remember(&cmd.namespace, &idempotency.key, &remembered)
        .await
    {
        Ok(Ok(())) => conclude(&ctx, outcome, reply_to, delivery).await,
        // Another command under the key was applied first (possible only after JetStream's
        // de-duplication window): this one changed the timer too, so it is answered and
        // armed as applied, and the key keeps its first request.
        Ok(Err(_first)) => conclude(&ctx, outcome, reply_to, delivery).await,
        Err(e) => Handled::Failed(format!("remembering the idempotency key: {e}")),
    }
}

/// The message's place in its stream and when the stream took it, which order and date the
/// commands (and reports) it carries. `None`, logged, for a message without JetStream's
/// metadata, which is left alone.
pub fn position(message: &Message) -> Option<(u64, DateTime<Utc>)> {
    match message.info() {
        Ok(info) => Some((info.stream_sequence, info.published)),
        Err(e) => {
            tracing::warn!(error = %e, subject = %message.subject, "a message without JetStream metadata");
            None
        }
    }
}

/// Where the publisher of a command waits for the reply, if it does. Only an inbox
/// (`_INBOX…`, any prefix a client's own inboxes use) is replied on: the scheduler publishes
/// with ontime's rights, so a command naming any other subject (a bucket's, a stream's)
/// would have it write there for a publisher that may not.
pub fn reply_subject(message: &Message) -> Option<String> {
    let subject = message
        .headers
        .as_ref()?
        .get(headers::REPLY_TO)?
        .to_string();
    if is_inbox(&subject) {
        Some(subject)
    } else {
        tracing::warn!(%subject, "a command asks for its reply on a subject that is not an inbox; not replied");
        None
    }
}

/// `_INBOX` or `_INBOX<anything>` as the first token, then tokens without wildcards.
fn is_inbox(subject: &str) -> bool {
    let mut tokens = subject.split('.');
    tokens
        .next()
        .is_some_and(|first| first.starts_with("_INBOX"))
        && subject
            .split('.')
            .all(|t| !t.is_empty() && t != "*" && t != ">")
}

/// Replies (if asked), arms what the command led to, and settles its message.
pub async fn conclude(
    ctx: &Arc<Ctx>,
    outcome: Result<Option<(TimerRecord, u64)>, Failure>,
    reply_to: Option<String>,
    delivery: Delivery,
) -> Handled {
    match outcome {
        Ok(Some((record, revision))) => {
            metrics::counter!(crate::metrics::COMMANDS, "outcome" => "applied").increment(1);
            send(ctx, reply_to, &Reply::applied(record.view(revision))).await;
            if let Err(e) = ctx.arm(record, revision, Some(delivery.into())).await {
                // The record is written; the redelivered command will arm it (idempotent).
                return Handled::Failed(format!("arming failed: {e}"));
            }
        }
        Ok(None) => {
            metrics::counter!(crate::metrics::COMMANDS, "outcome" => "unchanged").increment(1);
            ack(Some(delivery.into())).await;
        }
        Err(Failure::Rejected(error)) => {
            metrics::counter!(crate::metrics::COMMANDS, "outcome" => "rejected").increment(1);
            send(ctx, reply_to, &Reply::failed(error)).await;
            delivery.never().await;
        }
        Err(Failure::Nats(e)) => return Handled::Failed(format!("applying failed: {e}")),
    }
    Handled::Done
}

fn decode(ctx: &Ctx, subject: &str, payload: &[u8]) -> Result<Command, ValidationError> {
    let cmd = Command::decode_with(payload, &ctx.config.limits)?;
    if ctx.topology.names().key_of_subject(subject).as_ref() != Some(&cmd.key()) {
        return Err(ValidationError::invalid(
            "subject",
            format!(
                "the command for {} was published on {subject}; publish it on {}",
                cmd.key(),
                ctx.topology.names().cmd_subject(&cmd.key())
            ),
        ));
    }
    Ok(cmd)
}

/// Applies the command with compare-and-set, retrying on a concurrent write. Returns the
/// record as it now stands (`None`: no such timer, e.g. a report about a deleted one).
/// `seq` and `accepted_at` order and date definitions and controls; reports use neither.
pub async fn apply(
    ctx: &Ctx,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
) -> Result<Option<(TimerRecord, u64)>, Failure> {
    let applied = apply_once(ctx, cmd, seq, accepted_at).await;
    if !matches!(cmd.body, CommandBody::Report { .. }) {
        crate::metrics::applied_after(accepted_at);
    }
    applied
}

async fn apply_once(
    ctx: &Ctx,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
) -> Result<Option<(TimerRecord, u64)>, Failure> {
    let store = &ctx.topology.timers;
    if let CommandBody::Report { .. } = &cmd.body {
        // A report published as a command is applied as the log's reports are.
        let report = Report::new(cmd.clone(), seq, accepted_at);
        return apply_group(ctx, &[&report])
            .await
            .map_err(|e| Failure::Nats(NatsError::Nats(e)));
    }
    // Most upserts create a timer: try that first, with no read (a write expecting revision
    // 0 fails if the timer exists, and the loop below then reads it).
    if let Some(record) = as_new(ctx, cmd, seq, accepted_at) {
        match store.write(&record, 0).await {
            Ok(revision) => return Ok(Some((record, revision))),
            Err(NatsError::Conflict) => {}
            Err(e) => return Err(Failure::Nats(e)),
        }
    }
    loop {
        let slot = store.get(&cmd.key()).await.map_err(Failure::Nats)?;
        let current = slot.record.as_ref().map(|r| (r, slot.revision));
        match state::apply_with(
            current,
            cmd,
            seq,
            accepted_at,
            Utc::now(),
            &ctx.config.limits,
        )
        .map_err(Failure::Rejected)?
        {
            Applied::Unchanged => {
                // A redelivered command may have been applied by a scheduler that died
                // before raising the mark, or, a trigger, before sending its call.
                if let Some(record) = &slot.record {
                    raise_mark(ctx, cmd, record).await?;
                    ctx.unschedule_unless_rearmed(record)
                        .await
                        .map_err(Failure::Nats)?;
                    let unsent = state::unsent(record, cmd, seq, accepted_at);
                    emit::fires(ctx, &unsent).await.map_err(Failure::Nats)?;
                }
                return Ok(slot.record.map(|r| (r, slot.revision)));
            }
            Applied::Changed(outcome) => {
                // A command's calls (a trigger's, a redefinition's) go out once the record says
                // they are in flight: their reports can then never come before the record
                // expects them. Sending may fail after the write: the command is then
                // redelivered, and sends them (above).
                match store.write(&outcome.record, slot.revision).await {
                    Ok(revision) => {
                        // The reports of the calls it makes find it.
                        ctx.recent.put(outcome.record.clone(), revision);
                        emit::fires(ctx, &outcome.fires)
                            .await
                            .map_err(Failure::Nats)?;
                        emit::log(ctx, &outcome.record, &outcome.log).await;
                        if slot.record.is_some() {
                            raise_mark(ctx, cmd, &outcome.record).await?;
                            ctx.unschedule_unless_rearmed(&outcome.record)
                                .await
                                .map_err(Failure::Nats)?;
                        }
                        return Ok(Some((outcome.record, revision)));
                    }
                    Err(NatsError::Conflict) => continue,
                    Err(e) => return Err(Failure::Nats(e)),
                }
            }
        }
    }
}

/// The record `cmd` makes if its timer does not exist yet, when it is an upsert that
/// expects nothing and fires nothing at once: what may be written expecting no entry, with
/// no read first.
pub fn as_new(
    ctx: &Ctx,
    cmd: &Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
) -> Option<TimerRecord> {
    if !matches!(cmd.body, CommandBody::Upsert { .. }) || cmd.expected_revision.is_some() {
        return None;
    }
    match state::apply_with(None, cmd, seq, accepted_at, Utc::now(), &ctx.config.limits) {
        Ok(Applied::Changed(outcome)) if outcome.fires.is_empty() => Some(outcome.record),
        _ => None,
    }
}

/// After a delete or a new definition of an existing timer, raises its mark before the
/// command is answered or acknowledged: a worker that read the record when the fire arrived
/// checks the mark at the due instant, so it does not call with a definition that a command
/// acknowledged in between replaced or cancelled. A new timer has no fire to supersede.
/// (Reports raise the marks of their answers where they are applied, in [`crate::reports`].)
async fn raise_mark(ctx: &Ctx, cmd: &Command, record: &TimerRecord) -> Result<(), Failure> {
    let mark = match &cmd.body {
        CommandBody::Upsert { .. } | CommandBody::Patch { .. } | CommandBody::Delete => {
            Some(record.mark())
        }
        _ => None,
    };
    if let Some(mark) = mark {
        ctx.topology
            .marks
            .raise(&record.key(), mark)
            .await
            .map_err(Failure::Nats)?;
    }
    Ok(())
}

async fn send(ctx: &Ctx, reply_to: Option<String>, reply: &Reply) {
    let Some(subject) = reply_to else { return };
    send_reply(ctx, subject, serde_json::to_vec(reply).unwrap_or_default()).await;
}

/// Publishes an encoded reply; a lost one only means the publisher answers 202.
pub async fn send_reply(ctx: &Ctx, subject: String, body: Vec<u8>) {
    if let Err(e) = ctx
        .topology
        .commands
        .reply(subject, Bytes::from(body))
        .await
    {
        tracing::debug!(error = %e, "reply not sent");
    }
}

#[cfg(test)]
mod reply_tests {
    use super::is_inbox;

    #[test]
    fn replies_go_to_inboxes_only() {
        for inbox in ["_INBOX.abc.1", "_INBOX_billing.x", "_INBOX"] {
            assert!(is_inbox(inbox), "{inbox}");
        }
        for other in [
            "$KV.ONTIME_TIMERS.shop.order-1",
            "ontime.cmd.x.y",
            "_INBOX.>",
            "_INBOX.*.x",
            "x._INBOX",
            "_INBOX..x",
            "",
        ] {
            assert!(!is_inbox(other), "{other}");
        }
    }
}
