//! Arming: making sure the wake-up a record waits for exists, either as a scheduled message
//! in NATS (due later than `lead`) or in this instance's precision queue (due sooner).

use std::sync::Arc;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::message::Acker;
use ontime_core::fire::WakeUp;
use ontime_core::state::pending_wake;
use ontime_core::timer::TimerRecord;
use ontime_nats::NatsError;

use crate::Ctx;
use crate::firing::Due;
use crate::time::until;

impl Ctx {
    /// Arms `record`'s pending wake-up. `held` (the command or wake-up message that led
    /// here) is acknowledged once the wake-up is durable elsewhere, or, when it goes into the
    /// precision queue, only after it has fired: until then, its redelivery is the backup.
    pub async fn arm(
        self: &Arc<Self>,
        record: TimerRecord,
        revision: u64,
        held: Option<Held>,
    ) -> Result<(), NatsError> {
        // A timer that expects nothing more leaves its last wake-up, if any, to be dropped
        // as stale when its second comes.
        let Some(wake) = pending_wake(&record) else {
            ack(held).await;
            return Ok(());
        };
        if until(wake.due_at) > self.config.lead {
            self.publish_wake_up(&wake).await?;
            ack(held).await;
            return Ok(());
        }
        let due = Due {
            at: self.fire_instant(wake.due_at),
            wake,
            record,
            revision,
            held,
        };
        self.hold(due).await;
        Ok(())
    }

    /// Arms `record`'s pending wake-up as a scheduled message in NATS, however soon it is due
    /// (one due within `lead` comes back at once). For the commands of a batch, which share
    /// one message and one ack: a wake-up held only in this instance's memory would have no
    /// redelivery to back it once that ack is given.
    pub async fn arm_durably(&self, record: &TimerRecord) -> Result<(), NatsError> {
        match pending_wake(record) {
            Some(wake) => self.publish_wake_up(&wake).await,
            None => Ok(()),
        }
    }

    /// Arms what follows a firing. `held` backs the wake-up that just fired, not the next one,
    /// so the next one is always made durable in NATS before `held` is acknowledged, even
    /// when it is due within `lead` (the scheduled message then comes back at once): a
    /// scheduler killed between two occurrences of a fast recurring timer loses nothing.
    pub async fn rearm_after_fire(
        &self,
        record: &TimerRecord,
        held: Option<Held>,
    ) -> Result<(), NatsError> {
        if let Some(wake) = pending_wake(record) {
            self.publish_wake_up(&wake).await?;
        }
        ack(held).await;
        Ok(())
    }

    /// Puts a due wake-up into the precision queue; a duplicate of one already held is settled.
    pub async fn hold(self: &Arc<Self>, due: Due) {
        let key = due.wake.fire_msg_id();
        if let Err(duplicate) = self.queue.push(due.at, key, due) {
            ack(duplicate.held).await;
        }
        metrics::gauge!(crate::metrics::QUEUE_DEPTH).set(self.queue.len() as f64);
    }

    /// Publishes the wake-up as a scheduled message on the timer's own subject, due `lead`
    /// before the timer: a new one replaces the previous one.
    pub async fn publish_wake_up(&self, wake: &WakeUp) -> Result<(), NatsError> {
        let names = self.topology.names();
        ontime_nats::wake_ups::publish(&self.topology.js, names, wake, self.wake_at(wake)).await
    }

    /// When a wake-up should come back: `lead` before its due time.
    pub fn wake_at(&self, wake: &WakeUp) -> chrono::DateTime<chrono::Utc> {
        wake.due_at - chrono::Duration::from_std(self.config.lead).unwrap_or_default()
    }
}

/// What backs a wake-up held in memory until it fires: the message it came in, acknowledged
/// once it has fired, or the second of wake-ups it was read from (see [`crate::ticks`]),
/// cleared once every wake-up of that second has fired. Until then, a redelivery of the
/// message is the backup.
pub enum Held {
    Message(Box<Acker>),
    Second(Arc<crate::ticks::Second>),
}

impl From<Acker> for Held {
    fn from(acker: Acker) -> Self {
        Self::Message(Box::new(acker))
    }
}

/// Acknowledges a held message, if any. A failed ack only means a redelivery, which every
/// step tolerates, so it is logged and not retried.
pub async fn ack(held: Option<Held>) {
    match held {
        Some(Held::Message(acker)) => {
            if let Err(e) = acker.ack().await {
                tracing::debug!(error = %e, "ack failed; the message will be redelivered");
            }
        }
        // Dropping it is the acknowledgement: the second is cleared after its last wake-up.
        Some(Held::Second(_)) | None => {}
    }
}

/// Hands a held message back for redelivery now (to another instance, or to this one later).
pub async fn release(held: Option<Held>) {
    match held {
        Some(Held::Message(acker)) => {
            if let Err(e) = acker.ack_with(AckKind::Nak(None)).await {
                tracing::debug!(error = %e, "nak failed; the message will be redelivered after ack_wait");
            }
        }
        Some(Held::Second(second)) => second.fail(),
        None => {}
    }
}
