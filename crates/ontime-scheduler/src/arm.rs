//! Arming: making sure the wake-up a record waits for exists, either in NATS (due later than
//! `lead`: on the timing wheel, or as the fire itself, scheduled ahead) or in this instance's
//! precision queue (due sooner).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ontime_core::fire::{Fire, WakeUp};
use ontime_core::state::{self, pending_wake};
use ontime_core::timer::TimerRecord;
use ontime_nats::NatsError;
use ontime_nats::settle::Delivery;

use crate::Ctx;
use crate::firing::Due;
use crate::time::until;

/// How long before its due instant a scheduled fire is stored by nats-server, which fires
/// schedules a few hundred milliseconds late at worst; the worker holds it until the instant.
pub const SCHEDULED_FIRE_AHEAD: std::time::Duration = std::time::Duration::from_millis(600);

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
            self.store_wake_up(&record, &wake).await?;
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
            Some(wake) => self.store_wake_up(record, &wake).await,
            None => Ok(()),
        }
    }

    /// Arms what follows a firing. `held` backs the wake-up that just fired, not the next one,
    /// so the next one is always made durable in NATS before `held` is acknowledged, even
    /// when it is due within `lead` (the scheduled message then comes back at once): a
    /// scheduler killed between two occurrences of a fast recurring timer loses nothing.
    ///
    /// If the next one cannot be stored, `held` is handed back, never let go: dropped, a
    /// second of wake-ups would count it as done and be cleared. Its redelivery finds the
    /// timer moved on and arms the next one again (see [`crate::wakes::arrive`]).
    pub async fn rearm_after_fire(
        &self,
        record: &TimerRecord,
        held: Option<Held>,
    ) -> Result<(), NatsError> {
        if let Some(wake) = pending_wake(record)
            && let Err(e) = self.store_wake_up(record, &wake).await
        {
            release(held).await;
            return Err(e);
        }
        ack(held).await;
        Ok(())
    }

    /// Puts a due wake-up into the precision queue; a duplicate of one already held is settled.
    pub async fn hold(self: &Arc<Self>, due: Due) {
        let key = due.wake.fire_msg_id();
        if let Err(duplicate) = self.queue.push(due.at, key.clone(), due) {
            // The same wake-up is held already (its second read again, or its message
            // delivered again). What backs this copy must not be settled before that one has
            // fired: settled now, a second's copy would clear the second while the held one
            // may still fail, and the wake-up would be gone with nothing left to fire it. So
            // it is joined to the held one and settled with it; if that one has just left
            // the queue, this copy is handed back to come again.
            let mut extra = duplicate.held;
            self.queue.update(&key, |queued| {
                queued.held = match queued.held.take() {
                    Some(held) => Some(held.join(extra.take())),
                    None => extra.take(),
                };
            });
            release(extra).await;
        }
        metrics::gauge!(crate::metrics::QUEUE_DEPTH).set(self.queue.len() as f64);
    }

    /// Stores `record`'s pending wake-up in NATS: as its fire, scheduled ahead, when this
    /// scheduler stores fires so and the wake-up can be one ([`Self::ahead`]), or else on the
    /// timing wheel.
    pub async fn store_wake_up(
        &self,
        record: &TimerRecord,
        wake: &WakeUp,
    ) -> Result<(), NatsError> {
        match self.ahead(record, wake) {
            Some((fire, at)) => {
                self.topology.fires.schedule(&fire, at)?.await?;
                metrics::counter!(crate::metrics::FIRES_SCHEDULED).increment(1);
                Ok(())
            }
            None => self.publish_wake_up(wake).await,
        }
    }

    /// The fire that `wake` makes and when nats-server should store it, if it can go to NATS
    /// as a scheduled fire rather than a wake-up: scheduled fires are on
    /// ([`crate::SchedulerConfig::scheduled_fires`]), the wake-up is due later than `lead`, and
    /// firing it makes one call and writes nothing (the first occurrence or a held retry of a
    /// one-time timer, whose firing its first report records). Nothing at the instant then
    /// needs a scheduler; the worker's checks at the instant (the mark, the record's
    /// generation) are the same as for any fire.
    pub fn ahead(&self, record: &TimerRecord, wake: &WakeUp) -> Option<(Fire, DateTime<Utc>)> {
        if !self.config.scheduled_fires || until(wake.due_at) <= self.config.lead {
            return None;
        }
        let outcome = state::fire(record, wake, wake.due_at)?;
        let [fire] = <[Fire; 1]>::try_from(outcome.fires).ok()?;
        if !outcome.deferred || !outcome.log.is_empty() || fire.command {
            return None;
        }
        let ahead = chrono::Duration::from_std(SCHEDULED_FIRE_AHEAD).unwrap_or_default();
        Some((fire, wake.due_at - ahead))
    }

    /// With scheduled fires on: after a command changed an existing timer, drops its scheduled
    /// fire unless its arming replaces it, so that a paused timer, or one redefined to fire
    /// some other way, is not called by a fire stored for what it was. (A deleted or
    /// redefined timer's mark, raised before this, already stops such a fire at the worker;
    /// dropping it saves the worker the call's checks.)
    pub async fn unschedule_unless_rearmed(&self, record: &TimerRecord) -> Result<(), NatsError> {
        if !self.config.scheduled_fires {
            return Ok(());
        }
        let rearmed = pending_wake(record).is_some_and(|wake| self.ahead(record, &wake).is_some());
        if rearmed {
            return Ok(());
        }
        self.topology.fires.unschedule(&record.key()).await
    }

    /// Publishes the wake-up on the timing wheel, due `lead` before the timer.
    pub async fn publish_wake_up(&self, wake: &WakeUp) -> Result<(), NatsError> {
        self.topology.wheel.publish(wake, self.wake_at(wake)).await
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
    Message(Box<Delivery>),
    Second(Arc<crate::ticks::Second>),
    /// Several copies of one wake-up, settled together.
    Many(Vec<Held>),
}

impl Held {
    /// Adds `other` to what backs this wake-up.
    pub fn join(self, other: Option<Held>) -> Held {
        match (self, other) {
            (held, None) => held,
            (Held::Many(mut all), Some(other)) => {
                all.push(other);
                Held::Many(all)
            }
            (held, Some(other)) => Held::Many(vec![held, other]),
        }
    }
}

impl From<Delivery> for Held {
    fn from(delivery: Delivery) -> Self {
        Self::Message(Box::new(delivery))
    }
}

/// Acknowledges a held message, if any. A failed ack only means a redelivery, which every
/// step tolerates, so it is logged and not retried.
pub async fn ack(held: Option<Held>) {
    match held {
        Some(Held::Message(delivery)) => delivery.done().await,
        // Dropping it is the acknowledgement: the second is cleared after its last wake-up.
        Some(Held::Second(_)) | None => {}
        Some(Held::Many(all)) => {
            for held in all {
                Box::pin(ack(Some(held))).await;
            }
        }
    }
}

/// Hands a held message back for redelivery now (to another instance, or to this one later).
pub async fn release(held: Option<Held>) {
    match held {
        Some(Held::Message(delivery)) => delivery.again().await,
        Some(Held::Second(second)) => second.fail(),
        Some(Held::Many(all)) => {
            for held in all {
                Box::pin(release(Some(held))).await;
            }
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_nats::jetstream::{consumer, stream};
    use futures::StreamExt;
    use ontime_testkit::{NatsServer, topology};

    use super::*;
    use crate::test_record;

    /// A server of the test's own with the topology under `prefix`, a scheduler's state on
    /// it, and `n` messages to back wake-ups with (see [`backing`]).
    struct Setup {
        _server: NatsServer,
        t: ontime_nats::Topology,
        pull: consumer::PullConsumer,
        ctx: Arc<Ctx>,
    }

    async fn setup(prefix: &str, n: usize) -> Setup {
        let server = NatsServer::start().await;
        let t = topology(&server, prefix).await;
        let pull = backing(&t.js, n).await;
        let ctx = crate::test_ctx(&t);
        Setup {
            _server: server,
            t,
            pull,
            ctx,
        }
    }

    /// A stream and consumer of the test's own, whose messages stand for what backs a
    /// wake-up (a command, a wake-up message), delivered once and settled by the code tested.
    async fn backing(js: &async_nats::jetstream::Context, n: usize) -> consumer::PullConsumer {
        let stream = js
            .create_stream(stream::Config {
                name: "HELD".into(),
                subjects: vec!["held.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let pull = stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some("held".into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .unwrap();
        for copy in 0..n {
            js.publish(format!("held.{copy}"), "{}".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        pull
    }

    /// Messages delivered and not yet settled, fetched from a stream of the test's own.
    async fn delivered(pull: &consumer::PullConsumer, n: usize) -> Vec<Delivery> {
        let mut messages = pull
            .fetch()
            .max_messages(n)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        let mut ackers = Vec::new();
        while let Some(message) = messages.next().await {
            ackers.push(ontime_nats::settle::split(message.unwrap()).1);
        }
        ackers
    }

    // Two copies of one wake-up: a second's wake-up read again by the second's next tick
    // while the first copy waits in the precision queue. Settled at once, the copy's tick
    // would clear the second, and a failure of the held copy would leave nothing to fire it.
    #[tokio::test]
    async fn a_copy_of_a_held_wake_up_is_settled_with_it_never_alone() {
        let Setup {
            _server, pull, ctx, ..
        } = setup("hd", 2).await;
        let record = test_record("t");
        let wake = WakeUp {
            namespace: record.namespace.clone(),
            id: record.id.clone(),
            generation: 1,
            occurrence: 1,
            attempt: 1,
            due_at: chrono::Utc::now() + chrono::Duration::hours(1),
        };
        let due = |held: Delivery| Due {
            at: tokio::time::Instant::now() + Duration::from_secs(3600),
            wake: wake.clone(),
            record: record.clone(),
            revision: 1,
            held: Some(held.into()),
        };
        let mut ackers = delivered(&pull, 2).await.into_iter();
        ctx.hold(due(ackers.next().unwrap())).await;
        ctx.hold(due(ackers.next().unwrap())).await;
        assert_eq!(ctx.queue.len(), 1, "one wake-up is held once");

        // The held copy fails: both are handed back, and both come again.
        for held in ctx.queue.drain() {
            held.release().await;
        }
        assert_eq!(delivered(&pull, 2).await.len(), 2);
    }

    // The wake-up after a firing could not be stored (its stream had no leader): what backs
    // the one that fired must come back, not be let go. Let go, a second of wake-ups would
    // count it as done, be cleared, and nothing would arm the next occurrence.
    #[tokio::test]
    async fn a_failed_arming_after_a_fire_hands_back_what_backs_it() {
        let Setup {
            _server,
            t,
            pull,
            ctx,
        } = setup("rf", 1).await;
        t.js.delete_stream(t.names().slots_stream()).await.unwrap();

        let held = delivered(&pull, 1).await.pop().unwrap();
        let armed = ctx
            .rearm_after_fire(&test_record("t"), Some(held.into()))
            .await;
        assert!(armed.is_err());
        assert_eq!(
            delivered(&pull, 1).await.len(),
            1,
            "handed back at once, not after its 60 s ack wait"
        );
    }

    // A copy of a wake-up that fired comes back (its second read again) to a timer that went
    // on to its next occurrence: that occurrence is armed again, since its own arming may
    // have failed after the firing was written.
    #[tokio::test]
    async fn a_wake_up_the_timer_went_on_from_arms_the_next_one() {
        let Setup {
            _server,
            t,
            pull,
            ctx,
        } = setup("mo", 1).await;
        let record = test_record("t");
        t.timers.write(&record, 0).await.unwrap();
        let next = pending_wake(&record).unwrap();
        let fired = WakeUp {
            occurrence: next.occurrence - 1,
            due_at: chrono::Utc::now(),
            ..next.clone()
        };

        let held = delivered(&pull, 1).await.pop().unwrap();
        crate::wakes::arrive(&ctx, fired, held.into())
            .await
            .unwrap();

        let second = ontime_nats::wake_ups::second_of(ctx.wake_at(&next));
        let filed = t.wheel.read_second(second).await.unwrap();
        assert_eq!(
            filed.into_iter().map(|(w, _)| w).collect::<Vec<_>>(),
            [next]
        );
        assert!(
            delivered(&pull, 1).await.is_empty(),
            "the copy is settled once the next one is armed"
        );
    }
}
