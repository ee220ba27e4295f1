//! Batches: many commands of one namespace in one message on `ontime.cmd.<ns>`. Each command
//! is applied exactly as if it had been published alone at the batch's place in the stream
//! (same sequence, same acceptance time); the batch shares one delivery, one reply and one
//! ack, which is what makes bulk creation cheap.

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::jetstream::Message;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use ontime_core::command::{Batch, BatchReply, Command, Reply};
use ontime_core::state::pending_wake;
use ontime_core::timer::TimerRecord;
use ontime_core::{Namespace, TimerKey, ValidationError};
use ontime_nats::pull::Handled;

use crate::Ctx;
use crate::commands::{Failure, apply, as_new, position, reply_subject, send_reply};
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
    let (message, delivery) = ontime_nats::settle::split(message);
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
        let mut applied = create_together(&ctx, &batch.commands, seq, accepted_at).await;
        // The others are applied one by one, each armed before the next of its slot starts:
        // no step waits for the whole batch, and the reply goes once all are done.
        let rest: Vec<(usize, Applied, bool)> = futures::stream::iter(
            batch
                .commands
                .into_iter()
                .enumerate()
                .filter(|(i, _)| applied[*i].is_none()),
        )
        .map(|(i, cmd)| {
            let ctx = &ctx;
            async move {
                let outcome = match cmd {
                    Ok(cmd) => apply(ctx, &cmd, seq, accepted_at).await,
                    Err(error) => Err(Failure::Rejected(error)),
                };
                let armed = arm(ctx, &outcome).await;
                (i, outcome, armed)
            }
        })
        .buffered(AT_ONCE)
        .collect()
        .await;
        for (i, outcome, armed) in rest {
            applied[i] = Some((outcome, armed));
        }
        let applied: Vec<(Applied, bool)> = applied.into_iter().flatten().collect();
        if let Some(to) = reply_to.clone() {
            send_reply(&ctx, to, encode(&ctx, &applied)).await;
        }
        Ok(applied.iter().all(|(_, armed)| *armed))
    };
    let limit = ctx.config.batch_time_limit;
    let bounded = tokio::time::timeout(limit, work);
    let Ok(applied) = ontime_nats::pull::with_progress(&delivery, progress, bounded).await else {
        // What was applied comes back unchanged on the next delivery, and is armed again.
        return Handled::Failed(format!("the batch took longer than {limit:?}"));
    };
    match applied {
        Ok(true) => crate::arm::ack(Some(delivery.into())).await,
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
            delivery.never().await;
        }
    }
    Handled::Done
}

type Applied = Result<Option<(TimerRecord, u64)>, Failure>;

/// Creates the batch's new timers together: their records in atomic batches on the timers'
/// bucket, then their wake-ups in atomic batches on the schedule stream, which under
/// `sync_interval: always` costs a few disk barriers per thousand timers instead of two per
/// timer. Returns, by command, what was applied and armed; `None` for the commands left to
/// be applied one by one: every command that is not a plain create of a timer named once in
/// the batch, and all of them when a batch is refused (a timer that exists already).
async fn create_together(
    ctx: &Ctx,
    commands: &[Result<Command, ValidationError>],
    seq: u64,
    accepted_at: DateTime<Utc>,
) -> Vec<Option<(Applied, bool)>> {
    let mut out: Vec<Option<(Applied, bool)>> = commands.iter().map(|_| None).collect();
    let mut named: HashMap<TimerKey, usize> = HashMap::new();
    for cmd in commands.iter().flatten() {
        *named.entry(cmd.key()).or_default() += 1;
    }
    let (places, records): (Vec<usize>, Vec<TimerRecord>) = commands
        .iter()
        .enumerate()
        .filter_map(|(i, cmd)| {
            let cmd = cmd.as_ref().ok().filter(|c| named[&c.key()] == 1)?;
            Some((i, as_new(ctx, cmd, seq, accepted_at)?))
        })
        .unzip();
    if records.len() < ontime_nats::batch::WORTH_IT {
        return out;
    }
    let revisions = match ctx.topology.timers.create_all(&records).await {
        Ok(revisions) => revisions,
        Err(e) => {
            tracing::debug!(error = %e, "a batch's new timers were not created together");
            return out;
        }
    };
    let (mut wakes, mut ahead) = (Vec::new(), Vec::new());
    for record in &records {
        let Some(wake) = pending_wake(record) else {
            continue;
        };
        match ctx.ahead(record, &wake) {
            Some(fire) => ahead.push(fire),
            None => {
                let at = ctx.wake_at(&wake);
                wakes.push((wake, at));
            }
        }
    }
    let stored = async {
        ctx.topology.fires.schedule_all(&ahead).await?;
        metrics::counter!(crate::metrics::FIRES_SCHEDULED).increment(ahead.len() as u64);
        ctx.topology.wheel.publish_all(&wakes).await
    };
    let armed = match stored.await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "arming a batch's new timers failed");
            false
        }
    };
    metrics::counter!(COMMANDS, "outcome" => "applied").increment(records.len() as u64);
    for _ in &records {
        crate::metrics::applied_after(accepted_at);
    }
    for ((place, record), revision) in places.into_iter().zip(records).zip(revisions) {
        out[place] = Some((Ok(Some((record, revision))), armed));
    }
    out
}

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
    if full.len() <= ctx.topology.commands.max_payload() {
        return full;
    }
    serde_json::to_vec(&results(false)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;
    use ontime_testkit::{NatsServer, topology};

    use super::*;

    /// A batch tells its consumer it is still being worked on; one that takes longer than the
    /// limit must be handed back rather than held as long as its work lasts, which a wait that
    /// never ends (acks lost on the way back) made for ever.
    #[tokio::test]
    async fn a_batch_past_its_time_limit_is_handed_back() {
        let server = NatsServer::start().await;
        let t = topology(&server, "bl").await;
        let names = t.names().clone();
        let ns = Namespace::parse("ns").unwrap();
        let commands: Vec<Vec<u8>> = (0..3)
            .map(|i| serde_json::to_vec(&crate::test_upsert(&format!("t{i}"))).unwrap())
            .collect();
        t.js.publish(
            names.cmd_batch_subject(&ns),
            Batch::encode(&ns, &commands).into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
        let consumer = t
            .consumer(&names.cmd_stream(), names.batch_consumer())
            .await
            .unwrap();
        let mut ctx = crate::test_ctx(&t);
        Arc::get_mut(&mut ctx).unwrap().config.batch_time_limit = Duration::ZERO;
        let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
        let message = batch.next().await.unwrap().unwrap();
        let handled = apply_batch(ctx, message, ns).await;
        assert!(
            matches!(&handled, Handled::Failed(reason) if reason.contains("longer than")),
            "{handled:?}"
        );
    }
}
