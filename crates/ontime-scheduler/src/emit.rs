//! Publishing what a state change produces: fire messages (before the record is written, so
//! a crash in between repeats them under the same de-duplication ids rather than losing them)
//! and the scheduler's own execution-log entries (after).

use async_nats::jetstream::context::PublishAckFuture;
use bytes::Bytes;
use ontime_core::fire::Fire;
use ontime_core::timer::{Attempt, TimerRecord};
use ontime_nats::{NatsError, headers};

use crate::Ctx;

/// Publishes the fires without waiting for their acks (the firing loop must not wait).
pub async fn publish_fires(ctx: &Ctx, fires: &[Fire]) -> Result<Vec<PublishAckFuture>, NatsError> {
    let mut acks = Vec::with_capacity(fires.len());
    for fire in fires {
        let mut hdrs = async_nats::HeaderMap::new();
        hdrs.insert(headers::MSG_ID, fire.msg_id().as_str());
        let body =
            Bytes::from(serde_json::to_vec(fire).map_err(|e| NatsError::Corrupt(e.to_string()))?);
        metrics::counter!(crate::metrics::FIRES).increment(1);
        let ack = ctx
            .topology
            .js
            .publish_with_headers(ctx.topology.names().fire_subject(&fire.key()), hdrs, body)
            .await
            .map_err(NatsError::nats)?;
        acks.push(ack);
    }
    Ok(acks)
}

/// Waits until JetStream has every fire. A fire another scheduler is storing at this very
/// moment under the same id (JetStream's 10158, "duplicate message id is in process") counts
/// as stored: the record's compare-and-set decides which of the two records the firing.
pub async fn confirmed(acks: Vec<PublishAckFuture>) -> Result<(), NatsError> {
    for ack in acks {
        if let Err(e) = ack.await
            && !is_in_process(&e.to_string())
        {
            return Err(NatsError::nats(e));
        }
    }
    Ok(())
}

fn is_in_process(error: &str) -> bool {
    error.contains("10158") || error.contains("duplicate message id is in process")
}

/// Publishes the fires and waits for their acks.
pub async fn fires(ctx: &Ctx, fires: &[Fire]) -> Result<(), NatsError> {
    confirmed(publish_fires(ctx, fires).await?).await
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
