//! Firing: at each wake-up's exact instant, emit the fire message, then record that the
//! occurrence fired and arm whatever comes next.
//!
//! The loop only publishes (which buffers and returns at once); awaiting the JetStream ack,
//! the CAS write and the next arming happen in a task per fire, off the timing path.

use std::sync::Arc;

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::Acker;
use bytes::Bytes;
use chrono::Utc;
use ontime_core::fire::{Fire, WakeUp};
use ontime_core::state;
use ontime_core::timer::TimerRecord;
use ontime_nats::{NatsError, headers};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Ctx;
use crate::arm::{ack, release};

/// A wake-up held in the precision queue, with the record read when it arrived (so that
/// firing needs no read) and the message to settle once it has fired.
pub struct Due {
    pub at: Instant,
    pub wake: WakeUp,
    pub record: TimerRecord,
    pub revision: u64,
    pub held: Option<Acker>,
}

impl Due {
    /// Gives the held message back to the stream (shutdown).
    pub async fn release(self) {
        release(self.held).await;
    }
}

pub async fn run(ctx: Arc<Ctx>, shutdown: CancellationToken) {
    loop {
        let batch = tokio::select! {
            batch = ctx.queue.next_due() => batch,
            _ = shutdown.cancelled() => return,
        };
        let now = Utc::now();
        for due in batch {
            metrics::histogram!(crate::metrics::FIRE_LATENESS)
                .record((now - due.wake.due_at).as_seconds_f64().max(0.0));
            match state::fire(&due.record, &due.wake, now) {
                Some((fire, next)) => match publish_fire(&ctx, &due.wake, &fire).await {
                    Ok(ack_future) => {
                        tokio::spawn(finish(ctx.clone(), due, next, ack_future));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "publishing a fire failed; the wake-up will be redelivered");
                        due.release().await;
                    }
                },
                // The record read on arrival no longer expects this wake-up: read it again,
                // it may have been rewritten to expect exactly this one.
                None => {
                    tokio::spawn(refire(ctx.clone(), due));
                }
            }
        }
        metrics::gauge!(crate::metrics::QUEUE_DEPTH).set(ctx.queue.len() as f64);
    }
}

async fn publish_fire(
    ctx: &Ctx,
    wake: &WakeUp,
    fire: &Fire,
) -> Result<PublishAckFuture, NatsError> {
    let mut hdrs = async_nats::HeaderMap::new();
    hdrs.insert(headers::MSG_ID, wake.fire_msg_id().as_str());
    let body =
        Bytes::from(serde_json::to_vec(fire).map_err(|e| NatsError::Corrupt(e.to_string()))?);
    metrics::counter!(crate::metrics::FIRES).increment(1);
    ctx.topology
        .js
        .publish_with_headers(ctx.topology.names().fire_subject(&fire.key()), hdrs, body)
        .await
        .map_err(NatsError::nats)
}

/// After the fire is published: wait for its ack, record the firing, arm what follows.
async fn finish(ctx: Arc<Ctx>, due: Due, next: TimerRecord, ack_future: PublishAckFuture) {
    if let Err(e) = ack_future.await {
        tracing::warn!(error = %e, "a fire was not acknowledged; the wake-up will be redelivered");
        return due.release().await;
    }
    let result = match ctx.topology.timers.write(&next, due.revision).await {
        Ok(revision) => ctx.arm(next, revision, due.held).await,
        Err(NatsError::Conflict) => settle_after_conflict(&ctx, &due.wake, due.held).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "recording a fire failed; the wake-up will be redelivered");
    }
}

/// The record changed between the read and the write (a report, a patch, another
/// scheduler): apply the firing to the fresh record if it still expects it.
async fn settle_after_conflict(
    ctx: &Arc<Ctx>,
    wake: &WakeUp,
    held: Option<Acker>,
) -> Result<(), NatsError> {
    loop {
        let slot = ctx.topology.timers.get(&wake.key()).await?;
        let Some(record) = slot.record else {
            ack(held).await;
            return Ok(());
        };
        let Some((_, next)) = state::fire(&record, wake, Utc::now()) else {
            ack(held).await;
            return Ok(());
        };
        match ctx.topology.timers.write(&next, slot.revision).await {
            Ok(revision) => return ctx.arm(next, revision, held).await,
            Err(NatsError::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Fires a wake-up whose prefetched record was stale, if the current record expects it.
async fn refire(ctx: Arc<Ctx>, due: Due) {
    let slot = match ctx.topology.timers.get(&due.wake.key()).await {
        Ok(slot) => slot,
        Err(e) => {
            tracing::warn!(error = %e, "reading a timer failed; the wake-up will be redelivered");
            return due.release().await;
        }
    };
    let fired = slot
        .record
        .as_ref()
        .and_then(|r| state::fire(r, &due.wake, Utc::now()));
    let Some((fire, next)) = fired else {
        return ack(due.held).await;
    };
    match publish_fire(&ctx, &due.wake, &fire).await {
        Ok(ack_future) => {
            finish(
                ctx.clone(),
                Due {
                    revision: slot.revision,
                    ..due
                },
                next,
                ack_future,
            )
            .await
        }
        Err(e) => {
            tracing::warn!(error = %e, "publishing a fire failed; the wake-up will be redelivered");
            due.release().await;
        }
    }
}
