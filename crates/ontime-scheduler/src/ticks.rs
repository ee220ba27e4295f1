//! Ticks: a second of wake-ups falling due (see [`ontime_nats::wake_ups`]). The scheduler
//! that takes a tick reads the second's wake-ups and holds each in its precision queue; the
//! tick is acknowledged, and the second's wake-ups purged, once the last of them has fired.
//! Until then, the tick's redelivery (to this or another scheduler) is their backup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;
use ontime_nats::pull::Handled;
use ontime_nats::{Names, wake_ups};

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
        let _ = message.ack_with(AckKind::Term).await;
        return Handled::Done;
    };
    let (_, acker) = message.split();
    let wakes = match wake_ups::read_second(&ctx.topology.js, names, second).await {
        Ok(wakes) => wakes,
        Err(e) => return Handled::Failed(format!("reading the wake-ups of {second}: {e}")),
    };
    let Some(last) = wakes.iter().map(|(_, seq)| *seq).max() else {
        // An earlier tick of the second took them all.
        ack(Some(acker.into())).await;
        return Handled::Done;
    };
    let held = Arc::new(Second {
        js: ctx.topology.js.clone(),
        names: names.clone(),
        second,
        last,
        acker: std::sync::Mutex::new(Some(acker)),
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

/// A second whose wake-ups are held: settled when the last of them lets go of it.
pub struct Second {
    js: async_nats::jetstream::Context,
    names: Names,
    second: i64,
    /// The last wake-up read: those filed since stay for the tick their arming stored again.
    last: u64,
    acker: std::sync::Mutex<Option<Acker>>,
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
        let Some(acker) = self.acker.lock().ok().and_then(|mut a| a.take()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Shutting down: the tick is redelivered after its ack timeout.
            return;
        };
        let failed = self.failed.load(Ordering::Relaxed);
        let (js, names, second, last) =
            (self.js.clone(), self.names.clone(), self.second, self.last);
        runtime.spawn(async move {
            let cleared = !failed
                && match wake_ups::clear_second(&js, &names, second, last).await {
                    Ok(()) => true,
                    Err(e) => {
                        // Left for the tick's redelivery, whose wake-ups are then all stale.
                        tracing::debug!(error = %e, second, "clearing a second failed");
                        false
                    }
                };
            let tick = Some(Held::from(acker));
            if cleared {
                ack(tick).await
            } else {
                release(tick).await
            }
        });
    }
}
