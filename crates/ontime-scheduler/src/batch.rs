//! Batches: many commands of one namespace in one message on `ontime.cmd.<ns>`. Each command
//! is applied exactly as if it had been published alone at the batch's place in the stream
//! (same sequence, same acceptance time); the batch shares one delivery, one reply and one
//! ack, which is what makes bulk creation cheap.

use std::sync::Arc;

use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;
use ontime_core::command::{Batch, BatchReply, Reply};
use ontime_core::timer::TimerRecord;
use ontime_core::{Namespace, ValidationError};
use ontime_nats::pull::Handled;

use crate::Ctx;
use crate::commands::{Failure, apply, position, reply_subject, send_reply};
use crate::metrics::COMMANDS;

/// Commands of one batch applied at once: enough to keep NATS busy, few enough that a
/// batch of 1,000 does not flood it.
const AT_ONCE: usize = 128;

/// Applies a batch of `namespace` (its subject's) and settles its message.
#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn apply_batch(ctx: Arc<Ctx>, message: Message, namespace: Namespace) -> Handled {
    let Some((seq, accepted_at)) = position(&message) else {
        return Handled::Done;
    };
    let reply_to = reply_subject(&message);
    let (message, acker) = message.split();
    // A batch can take a while: say so, or the consumer would hand it to another scheduler
    // after `ack_wait` while this one still works on it.
    let progress = ctx.topology.config.scheduler_ack_wait / 3;
    let work = async {
        let batch = Batch::decode_with(&message.payload, &ctx.config.limits)?;
        if batch.namespace != namespace {
            return Err(ValidationError::invalid(
                "namespace",
                format!(
                    "a batch for namespace {} published on {}; publish it on {}",
                    batch.namespace,
                    message.subject,
                    ctx.topology.names().cmd_batch_subject(&batch.namespace)
                ),
            ));
        }
        // Each command is applied and its wake-up armed before the next of its slot starts:
        // no step waits for the whole batch, and the reply goes once all are done.
        let applied: Vec<(Applied, bool)> = futures::stream::iter(batch.commands)
            .map(|cmd| async {
                let applied = match cmd {
                    Ok(cmd) => apply(&ctx, &cmd, seq, accepted_at).await,
                    Err(error) => Err(Failure::Rejected(error)),
                };
                let armed = arm(&ctx, &applied).await;
                (applied, armed)
            })
            .buffered(AT_ONCE)
            .collect()
            .await;
        if let Some(to) = reply_to.clone() {
            send_reply(&ctx, to, encode(&ctx, &applied)).await;
        }
        Ok(applied.iter().all(|(_, armed)| *armed))
    };
    match ontime_nats::pull::with_progress(&acker, progress, work).await {
        Ok(true) => crate::arm::ack(Some(acker)).await,
        // Applied commands come back unchanged and are armed again; the others retry.
        Ok(false) => return Handled::Failed("a batch was applied in part".into()),
        Err(error) => {
            metrics::counter!(COMMANDS, "outcome" => "rejected").increment(1);
            if let Some(to) = reply_to {
                let refused = BatchReply {
                    results: Vec::new(),
                    error: Some(error),
                };
                send_reply(&ctx, to, serde_json::to_vec(&refused).unwrap_or_default()).await;
            }
            let _ = acker.ack_with(AckKind::Term).await;
        }
    }
    Handled::Done
}

type Applied = Result<Option<(TimerRecord, u64)>, Failure>;

/// Arms an applied command's wake-up durably, whatever its due time (see
/// [`Ctx::arm_durably`]). `false` when the command was not applied or not armed.
async fn arm(ctx: &Ctx, applied: &Applied) -> bool {
    match applied {
        Ok(Some((record, _))) => {
            metrics::counter!(COMMANDS, "outcome" => "applied").increment(1);
            ctx.arm_durably(record).await.is_ok()
        }
        Ok(None) => true,
        Err(Failure::Rejected(_)) => {
            metrics::counter!(COMMANDS, "outcome" => "rejected").increment(1);
            true
        }
        Err(Failure::Nats(e)) => {
            tracing::warn!(error = %e, "applying a command of a batch failed");
            false
        }
    }
}

/// The reply to a batch: each command's timer, or why it was refused, or (not applied yet,
/// or the timers would not fit in one message) that it was accepted.
fn encode(ctx: &Ctx, applied: &[(Applied, bool)]) -> Vec<u8> {
    let results = |with_timers: bool| BatchReply {
        results: applied
            .iter()
            .map(|(outcome, _)| match outcome {
                Ok(Some((record, revision))) if with_timers => {
                    Reply::applied(record.view(*revision))
                }
                Err(Failure::Rejected(error)) => Reply::failed(error.clone()),
                _ => Reply::pending(),
            })
            .collect(),
        error: None,
    };
    let full = serde_json::to_vec(&results(true)).unwrap_or_default();
    if full.len() <= ctx.topology.client.max_payload() {
        return full;
    }
    serde_json::to_vec(&results(false)).unwrap_or_default()
}
