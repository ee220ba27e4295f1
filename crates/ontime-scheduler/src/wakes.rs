//! Wake-ups arriving from NATS, about `lead` before their due time (alone, as an earlier
//! version armed them, or a second of them at a time: see [`crate::ticks`]): checked against
//! the record and held in the precision queue.

use std::sync::Arc;

use async_nats::jetstream::Message;
use chrono::Utc;
use ontime_core::fire::WakeUp;
use ontime_core::state::pending_wake;
use ontime_core::timing;
use ontime_nats::NatsError;
use ontime_nats::pull::Handled;

use crate::Ctx;
use crate::arm::{Held, ack};
use crate::firing::Due;
use crate::time::until;

#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn handle(ctx: Arc<Ctx>, message: Message) -> Handled {
    let (message, delivery) = ontime_nats::settle::split(message);
    let wake: WakeUp = match serde_json::from_slice(&message.payload) {
        Ok(wake) => wake,
        Err(e) => {
            tracing::error!(error = %e, "an unreadable wake-up; dropped");
            delivery.never().await;
            return Handled::Done;
        }
    };
    match arrive(&ctx, wake, delivery.into()).await {
        Ok(()) => Handled::Done,
        Err(e) => Handled::Failed(e.to_string()),
    }
}

/// Takes a wake-up that came back from NATS: checks it against the record and holds it in the
/// precision queue, or settles `held` at once when there is nothing to hold. On an error,
/// `held` is left to its redelivery.
pub async fn arrive(ctx: &Arc<Ctx>, wake: WakeUp, held: Held) -> Result<(), NatsError> {
    // Delivered far too early (a clock step, a wake-up armed with another lead): put it
    // back into NATS rather than hold it in memory past the ack timeout.
    if until(wake.due_at) > ctx.config.lead * 2 + EARLIEST {
        ctx.publish_wake_up(&wake).await?;
        ack(Some(held)).await;
        return Ok(());
    }
    let arrived = Utc::now();
    let read = ctx.topology.timers.get(&wake.key()).await;
    tracing::debug!(
        target: timing::TARGET,
        arrived_us = timing::from_due_us(wake.due_at, arrived),
        read_us = timing::from_due_us(wake.due_at, Utc::now()),
        "wake-up"
    );
    let slot = read?;
    let pending = slot.record.as_ref().and_then(pending_wake);
    let record = match (slot.record, pending) {
        (Some(record), Some(pending)) if pending == wake => record,
        // This occurrence (or attempt) has fired and the timer went on to another of the
        // same definition. Arming that one may have failed after the firing was written (its
        // store was unavailable), and this copy is what came back for it: arm it again, which
        // is harmless if it was armed (a wake-up replaces its own copy).
        (Some(record), Some(_)) if record.generation == wake.generation => {
            return ctx.arm(record, slot.revision, Some(held)).await;
        }
        // Stale: the timer changed, was deleted, or expects nothing more.
        _ => {
            ack(Some(held)).await;
            return Ok(());
        }
    };
    let due = Due {
        at: ctx.fire_instant(wake.due_at),
        wake,
        record,
        revision: slot.revision,
        held: Some(held),
    };
    ctx.hold(due).await;
    Ok(())
}

/// How much earlier than `lead` a wake-up may come back: the ticks of a second come when it
/// starts (see [`ontime_nats::wake_ups`]).
const EARLIEST: std::time::Duration = std::time::Duration::from_secs(1);
