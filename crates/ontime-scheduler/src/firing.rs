//! Firing: at each wake-up's exact instant, emit the fire messages, then record that the
//! occurrence fired and arm whatever comes next (always durably: see
//! [`Ctx::rearm_after_fire`]).
//!
//! The loop only publishes (which buffers and returns at once); awaiting the JetStream ack,
//! the CAS write and the next arming happen in a task per fire, off the timing path.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ontime_core::fire::WakeUp;
use ontime_core::state::{self, Outcome};
use ontime_core::timer::TimerRecord;
use ontime_core::timing;
use ontime_nats::NatsError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::arm::{Held, ack, release};
use crate::{Ctx, emit};

/// A wake-up held in the precision queue, with the record read when it arrived (so that
/// firing needs no read) and the message to settle once it has fired.
pub struct Due {
    pub at: Instant,
    pub wake: WakeUp,
    pub record: TimerRecord,
    pub revision: u64,
    pub held: Option<Held>,
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
                Some(outcome) => match emit::publish_fires(&ctx, &outcome.fires) {
                    Ok(acks) => {
                        tokio::spawn(finish(ctx.clone(), due, outcome, acks, now));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "publishing a fire failed; the wake-up will be redelivered");
                        due.release().await;
                    }
                },
                // The record read on arrival no longer expects this wake-up: read it again,
                // it may have been rewritten to expect exactly this one.
                None => {
                    let ctx = ctx.clone();
                    tokio::spawn(async move {
                        let Due { wake, held, .. } = due;
                        fire_fresh(&ctx, &wake, held, Utc::now()).await;
                    });
                }
            }
        }
        metrics::gauge!(crate::metrics::QUEUE_DEPTH).set(ctx.queue.len() as f64);
    }
}

/// After the fires are published: wait for their acks, record the firing, arm what follows.
/// `fired_at` is the instant the firing was decided at.
async fn finish(
    ctx: Arc<Ctx>,
    due: Due,
    outcome: Outcome,
    acks: Vec<emit::Sent>,
    fired_at: DateTime<Utc>,
) {
    if let Err(e) = emit::confirmed(&ctx, acks).await {
        tracing::warn!(error = %e, "a fire was not acknowledged; the wake-up will be redelivered");
        return due.release().await;
    }
    tracing::debug!(
        target: timing::TARGET,
        emitted_us = timing::from_due_us(due.wake.due_at, fired_at),
        stored_us = timing::from_due_us(due.wake.due_at, Utc::now()),
        "fire"
    );
    if outcome.deferred {
        // A one-time timer: its first report records the firing, against this same record.
        ctx.recent.put(due.record, due.revision);
        return ack(due.held).await;
    }
    match ctx
        .topology
        .timers
        .write(&outcome.record, due.revision)
        .await
    {
        Ok(revision) => {
            ctx.recent.put(outcome.record.clone(), revision);
            recorded(&ctx, &outcome, due.held).await
        }
        // The record changed between the read and the write (a report, a patch, another
        // scheduler): fire against the fresh record if it still expects this wake-up.
        Err(NatsError::Conflict) => fire_fresh(&ctx, &due.wake, due.held, fired_at).await,
        Err(e) => {
            tracing::warn!(error = %e, "recording a fire failed; the wake-up will be redelivered");
            due.release().await;
        }
    }
}

/// Reads the record and fires `wake` if it still expects it, until the write succeeds (or is
/// deferred to the first report, for a one-time timer). Fires already published for it are
/// published again with the same ids, which NATS drops: firing is decided again at the same
/// instant `at`, so that the misfire policy, which depends on it, decides the same occurrences
/// (only `overlap: skip` may now fire one it skipped, never the reverse).
async fn fire_fresh(ctx: &Arc<Ctx>, wake: &WakeUp, held: Option<Held>, at: DateTime<Utc>) {
    let result = async {
        loop {
            let slot = ctx.topology.timers.get(&wake.key()).await?;
            let Some(outcome) = slot.record.as_ref().and_then(|r| state::fire(r, wake, at)) else {
                return Ok(None);
            };
            emit::fires(ctx, &outcome.fires).await?;
            match ctx
                .topology
                .timers
                .write(&outcome.record, slot.revision)
                .await
            {
                Ok(_) => return Ok(Some(outcome)),
                Err(NatsError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
    }
    .await;
    match result {
        Ok(None) => ack(held).await,
        Ok(Some(outcome)) => recorded(ctx, &outcome, held).await,
        Err(e) => {
            tracing::warn!(error = %e, "firing failed; the wake-up will be redelivered");
            release(held).await;
        }
    }
}

/// Once a firing is written: its log entries, then the next wake-up, made durable before the
/// wake-up that fired is acknowledged.
async fn recorded(ctx: &Ctx, outcome: &Outcome, held: Option<Held>) {
    emit::log(ctx, &outcome.record, &outcome.log).await;
    if let Err(e) = ctx.rearm_after_fire(&outcome.record, held).await {
        tracing::warn!(error = %e, "arming failed; the wake-up will be redelivered");
    }
}
