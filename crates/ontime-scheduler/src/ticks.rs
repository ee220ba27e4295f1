//! Ticks: a second of wake-ups falling due (see [`ontime_nats::wake_ups`]). The scheduler
//! that takes a tick reads the second's wake-ups and holds each in its precision queue; the
//! tick is acknowledged, and the second's wake-ups purged, once the last of them has fired.
//! Until then, the tick's redelivery (to this or another scheduler) is their backup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_nats::jetstream::Message;
use futures::StreamExt;
use ontime_nats::pull::Handled;
use ontime_nats::settle::{self, Delivery};
use ontime_nats::wake_ups::{self, Wheel};
use tokio_util::sync::CancellationToken;

use crate::Ctx;
use crate::arm::{Held, ack, release};
use crate::wakes::arrive;

/// Wake-ups of one second read from the store at once.
const READS_AT_ONCE: usize = 64;

#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn handle(ctx: Arc<Ctx>, message: Message) -> Handled {
    let names = ctx.topology.names();
    let Some(second) = names.second_of_ticked_subject(&message.subject) else {
        tracing::error!(subject = %message.subject, "a tick for no second; dropped");
        settle::split(message).1.never().await;
        return Handled::Done;
    };
    let (_, delivery) = settle::split(message);
    let wakes = match ctx.topology.wheel.read_second(second).await {
        Ok(wakes) => wakes,
        Err(e) => return Handled::Failed(format!("reading the wake-ups of {second}: {e}")),
    };
    let Some(last) = wakes.iter().map(|(_, seq)| *seq).max() else {
        // An earlier tick of the second took them all.
        ack(Some(delivery.into())).await;
        return Handled::Done;
    };
    let held = Arc::new(Second {
        wheel: ctx.topology.wheel.clone(),
        second,
        last,
        delivery: std::sync::Mutex::new(Some(delivery)),
        failed: AtomicBool::new(false),
    });
    futures::stream::iter(wakes)
        .for_each_concurrent(READS_AT_ONCE, |(wake, _)| {
            let (ctx, held) = (&ctx, held.clone());
            async move {
                if let Err(e) = arrive(ctx, wake, Held::Second(held.clone())).await {
                    tracing::warn!(error = %e, second, "a wake-up was not taken; the second will come again");
                    held.fail();
                }
            }
        })
        .await;
    Handled::Done
}

/// How long after a second has passed wake-ups still filed under it are taken as left
/// unfired. Far longer than a tick takes to come back and be handled, its retries included;
/// a second ticked again too early is only read twice, which is harmless.
const LEFT_AFTER_S: i64 = 20;
/// How far back before that a scheduler that starts looks.
const LOOK_BACK_S: i64 = 600;
/// Seconds looked at per pass at most, so that the look back at start is spread out.
const SECONDS_PER_PASS: i64 = 60;

/// The backstop of the timing wheel: once a second, looks at the second that passed
/// [`LEFT_AFTER_S`] ago, and stores its tick again if wake-ups are still filed under it (a tick
/// lost to a server failure, or handled without seeing them). Every scheduler does it: a
/// second ticked twice is read twice, harmlessly.
pub async fn watch_left(ctx: Arc<Ctx>, shutdown: CancellationToken) {
    let now = || wake_ups::second_of(chrono::Utc::now());
    let mut next = now() - LEFT_AFTER_S - LOOK_BACK_S;
    loop {
        let upto = (now() - LEFT_AFTER_S).min(next + SECONDS_PER_PASS - 1);
        next = tick_left(&ctx, next, upto).await;
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Ticks again each second of `from..=upto` with wake-ups left; returns the first second not
/// looked at (one NATS could not answer for is looked at again on the next pass).
async fn tick_left(ctx: &Ctx, from: i64, upto: i64) -> i64 {
    for second in from..=upto {
        match ctx.topology.wheel.tick_again_if_left(second).await {
            Ok(false) => {}
            Ok(true) => {
                tracing::warn!(
                    second,
                    "wake-ups of a past second were left unfired; its tick is stored again"
                );
                metrics::counter!(crate::metrics::SECONDS_TICKED_AGAIN).increment(1);
            }
            Err(e) => {
                tracing::debug!(error = %e, second, "looking for wake-ups left failed");
                return second;
            }
        }
    }
    upto + 1
}

/// A second whose wake-ups are held: settled when the last of them lets go of it.
pub struct Second {
    wheel: Wheel,
    second: i64,
    /// The last wake-up read: those filed since stay for the tick their arming stored again.
    last: u64,
    delivery: std::sync::Mutex<Option<Delivery>>,
    failed: AtomicBool,
}

impl Second {
    /// One of its wake-ups could not be fired: the tick is handed back once the others are
    /// done, and its redelivery reads the second again (what did fire is dropped as stale).
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }
}

impl Drop for Second {
    fn drop(&mut self) {
        let Some(delivery) = self.delivery.lock().ok().and_then(|mut a| a.take()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Shutting down: the tick is redelivered after its ack timeout.
            return;
        };
        let failed = self.failed.load(Ordering::Relaxed);
        let (wheel, second, last) = (self.wheel.clone(), self.second, self.last);
        runtime.spawn(async move {
            let cleared = !failed
                && match wheel.clear_second(second, last).await {
                    Ok(()) => true,
                    Err(e) => {
                        // Left for the tick's redelivery, whose wake-ups are then all stale.
                        tracing::debug!(error = %e, second, "clearing a second failed");
                        false
                    }
                };
            let tick = Some(Held::from(delivery));
            if cleared {
                ack(tick).await
            } else {
                release(tick).await
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use ontime_core::TimerKey;
    use ontime_testkit::{NatsServer, topology};

    use super::*;

    // A second whose wake-ups are still filed long after it passed (its tick lost, or handled
    // without seeing them) gets its tick again; a second with none is left alone.
    #[tokio::test]
    async fn a_past_second_with_wake_ups_left_is_ticked_again() {
        let server = NatsServer::start().await;
        let t = topology(&server, "lf").await;
        let ctx = crate::test_ctx(&t);
        let names = t.names();
        let left = wake_ups::second_of(chrono::Utc::now()) - 100;
        let key = TimerKey::from_subject_suffix("ns.t").unwrap();
        // Filed without its tick, as if the tick had been lost.
        t.js.publish(names.slot_subject(left, &key), "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();

        assert_eq!(tick_left(&ctx, left, left + 1).await, left + 2);

        let sched = t.js.get_stream(names.sched_stream()).await.unwrap();
        let stored = |second: i64| {
            let sched = sched.clone();
            async move {
                for subject in [names.tick_subject(second), names.ticked_subject(second)] {
                    if sched
                        .get_last_raw_message_by_subject(&subject)
                        .await
                        .is_ok()
                    {
                        return true;
                    }
                }
                false
            }
        };
        assert!(stored(left).await, "the second left is ticked again");
        assert!(!stored(left + 1).await, "a second with nothing left is not");
    }
}
