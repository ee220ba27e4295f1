//! Publishing what a state change produces: fire messages (before the record is written, so
//! a crash in between repeats them under the same de-duplication ids rather than losing them)
//! and the scheduler's own execution-log entries (after).

use std::time::Duration;

use async_nats::jetstream::context::PublishAckFuture;
use ontime_core::fire::Fire;
use ontime_core::timer::{Attempt, TimerRecord};
use ontime_nats::NatsError;

use crate::Ctx;

/// A fire published and not yet confirmed: its ack to come, and the fire, to publish again.
pub struct Sent {
    fire: Fire,
    ack: PublishAckFuture,
}

/// Publishes the fires without waiting for their acks (the firing loop must not wait).
pub async fn publish_fires(ctx: &Ctx, fires: &[Fire]) -> Result<Vec<Sent>, NatsError> {
    let mut sent = Vec::with_capacity(fires.len());
    for fire in fires {
        metrics::counter!(crate::metrics::FIRES).increment(1);
        sent.push(Sent {
            fire: fire.clone(),
            ack: publish(ctx, fire).await?,
        });
    }
    Ok(sent)
}

async fn publish(ctx: &Ctx, fire: &Fire) -> Result<PublishAckFuture, NatsError> {
    ontime_nats::fires::publish(&ctx.topology.js, ctx.topology.names(), fire).await
}

/// How often a fire answered "duplicate message id is in process" is published again.
const IN_PROCESS_TRIES: u32 = 40;
const IN_PROCESS_WAIT: Duration = Duration::from_millis(50);

/// Waits until JetStream has stored every fire. A fire that another scheduler is storing at
/// this very moment under the same id (JetStream's 10158, "duplicate message id is in
/// process") is not stored yet: that other store may still fail (its stream leader killed
/// before the quorum took it), and a record written as fired on its word would lose the
/// occurrence. So it is published again, under the same id, until JetStream says it is
/// stored (now, or as a duplicate of the other one's).
pub async fn confirmed(ctx: &Ctx, sent: Vec<Sent>) -> Result<(), NatsError> {
    for Sent { fire, mut ack } in sent {
        let mut tries = 0;
        loop {
            match ack.await {
                Ok(_) => break,
                Err(e) if is_in_process(&e.to_string()) && tries < IN_PROCESS_TRIES => {
                    tries += 1;
                    tokio::time::sleep(IN_PROCESS_WAIT).await;
                    ack = publish(ctx, &fire).await?;
                }
                Err(e) => return Err(NatsError::nats(e)),
            }
        }
    }
    Ok(())
}

fn is_in_process(error: &str) -> bool {
    error.contains("10158") || error.contains("duplicate message id is in process")
}

/// Publishes the fires and waits until they are stored.
pub async fn fires(ctx: &Ctx, fires: &[Fire]) -> Result<(), NatsError> {
    confirmed(ctx, publish_fires(ctx, fires).await?).await
}

/// Appends the scheduler's own log entries (skipped occurrences). Best effort: the record
/// already counts them, so a lost entry loses only its line in the log.
pub async fn log(ctx: &Ctx, record: &TimerRecord, entries: &[Attempt]) {
    let key = record.key();
    for entry in entries {
        let sent =
            match ontime_nats::log::append(&ctx.topology.js, ctx.topology.names(), entry, &key)
                .await
            {
                Ok(ack) => ack.await.map_err(NatsError::nats),
                Err(e) => Err(e),
            };
        if let Err(e) = sent {
            tracing::warn!(error = %e, timer = %key, "a log entry was not written");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fire_stored_by_another_scheduler_is_recognised() {
        assert!(super::is_in_process(
            "nats: duplicate message id is in process (10158)"
        ));
        assert!(!super::is_in_process(
            "timed out: didn't receive ack in time"
        ));
    }
}
