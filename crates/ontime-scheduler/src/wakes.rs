//! Wake-ups arriving from NATS, about `lead` before their due time: checked against the
//! record and held in the precision queue.

use std::sync::Arc;

use async_nats::jetstream::{AckKind, Message};
use chrono::Utc;
use ontime_core::fire::WakeUp;
use ontime_core::state::pending_wake;
use ontime_core::timing;
use ontime_nats::pull::Handled;

use crate::Ctx;
use crate::arm::ack;
use crate::firing::Due;
use crate::time::until;

#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn handle(ctx: Arc<Ctx>, message: Message) -> Handled {
    let (message, acker) = message.split();
    let wake: WakeUp = match serde_json::from_slice(&message.payload) {
        Ok(wake) => wake,
        Err(e) => {
            tracing::error!(error = %e, "an unreadable wake-up; dropped");
            let _ = acker.ack_with(AckKind::Term).await;
            return Handled::Done;
        }
    };
    // Delivered far too early (a clock step, a wake-up armed with another lead): put it
    // back into NATS rather than hold it in memory past the ack timeout.
    if until(wake.due_at) > ctx.config.lead * 2 {
        return match ctx.publish_wake_up(&wake).await {
            Ok(()) => {
                ack(Some(acker)).await;
                Handled::Done
            }
            Err(e) => Handled::Failed(format!("arming a wake-up delivered early: {e}")),
        };
    }
    let arrived = Utc::now();
    let read = ctx.topology.timers.get(&wake.key()).await;
    tracing::debug!(
        target: timing::TARGET,
        arrived_us = timing::from_due_us(wake.due_at, arrived),
        read_us = timing::from_due_us(wake.due_at, Utc::now()),
        "wake-up"
    );
    let slot = match read {
        Ok(slot) => slot,
        Err(e) => return Handled::Failed(format!("reading the timer: {e}")),
    };
    let Some(record) = slot
        .record
        .filter(|r| pending_wake(r).as_ref() == Some(&wake))
    else {
        // Stale: the timer changed, was deleted, or this occurrence already fired.
        ack(Some(acker)).await;
        return Handled::Done;
    };
    let due = Due {
        at: ctx.fire_instant(wake.due_at),
        wake,
        record,
        revision: slot.revision,
        held: Some(acker),
    };
    ctx.hold(due).await;
    Handled::Done
}
