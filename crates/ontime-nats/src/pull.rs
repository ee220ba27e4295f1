//! The pull loop every consumer of ontime shares (schedulers' commands and wake-ups,
//! workers' calls): take a permit, then a message, and handle it in a task of its own, so one
//! slow message never holds up the others and a busy process pulls nothing it cannot start.
//!
//! The loop also contains what a handler cannot: a panic is caught and counted, and a
//! message that panics on [`PANICS_TO_BURY`] deliveries, or is still not settled after its
//! consumer's most deliveries and [`Containment::max_age`] after it was stored, goes to the
//! dead letters ([`crate::dead`]) instead of being redelivered for ever, where it would hold
//! one of the consumer's pending slots each time. Both bounds, because a count alone buries
//! a message that an outage hands back many times a second (a command or report backing a
//! wake-up held in memory is given back each time its firing fails), and such a message is
//! a timer that must not be lost.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{Message, consumer::PullConsumer};
use futures::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::NatsError;
use crate::dead::DeadLetters;
use crate::settle::Delivery;

/// What a handler made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Settled (acknowledged, retried by policy, terminated), or held to be settled later.
    Done,
    /// Not handled, for this reason: the loop hands it back for a later delivery, after a
    /// wait that grows with its deliveries, or buries it past the consumer's most deliveries.
    Failed(String),
}

/// Deliveries on which a message's handling panicked before it is buried: a panic that
/// repeats is a bug in the handling of that message, which another delivery will not fix.
pub const PANICS_TO_BURY: i64 = 3;

/// The metric counting panics in handlers, by consumer.
pub const PANICS: &str = "ontime_handler_panics_total";

/// How a consumer's messages that cannot be handled end.
#[derive(Clone)]
pub struct Containment {
    pub dead: DeadLetters,
    /// Deliveries after which a message that still fails is buried, once it is also older
    /// than `max_age`.
    pub max_deliveries: i64,
    /// How long after it was stored a failing message is still tried again, whatever its
    /// deliveries: a failure that lasts less is an outage, not a poison message.
    pub max_age: Duration,
}

impl Containment {
    /// Whether a message delivered `delivered` times and stored at `published` has had its
    /// chances.
    fn exhausted(&self, delivered: i64, message: &Message) -> bool {
        let age = message
            .info()
            .ok()
            .and_then(|info| (chrono::Utc::now() - info.published).to_std().ok())
            .unwrap_or_default();
        delivered >= self.max_deliveries && age >= self.max_age
    }
}

/// The wait before a failed message is delivered again: 100 ms, doubling with each
/// delivery, at most 10 s. A short outage costs a few fast retries; a lasting failure
/// settles at one try every 10 s until it is buried.
pub fn backoff(delivered: i64) -> Duration {
    let doublings = delivered.clamp(1, 8) - 1;
    Duration::from_millis(100u64 << doublings).min(Duration::from_secs(10))
}

/// Pulls from `consumer` until `shutdown` is cancelled, running `handle` on each message in
/// a task that holds one of `permits`. Returns when shutdown is asked or the stream ends; the
/// caller waits for the permits to come back to drain the work in flight.
pub async fn consume<F, Fut>(
    consumer: PullConsumer,
    permits: Arc<Semaphore>,
    shutdown: CancellationToken,
    containment: Containment,
    handle: F,
) -> Result<(), NatsError>
where
    F: Fn(Message) -> Fut,
    Fut: Future<Output = Handled> + Send + 'static,
{
    let batch = permits.available_permits().clamp(1, 1000);
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(NatsError::nats)?;
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => return Ok(()),
        };
        let next = tokio::select! {
            next = messages.next() => next,
            _ = shutdown.cancelled() => return Ok(()),
        };
        match next {
            Some(Ok(message)) => {
                let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
                let containment = containment.clone();
                if delivered > containment.max_deliveries
                    && containment.exhausted(delivered, &message)
                {
                    // Handed back after its last allowed delivery (by a process that died,
                    // or one whose wait for it ran out): no further try.
                    tokio::spawn(async move {
                        let reason = format!("delivered {delivered} times without being settled");
                        containment.dead.bury(message, &reason).await;
                        drop(permit);
                    });
                    continue;
                }
                let copy = message.clone();
                // Boxed: a handler's future is several KiB, which spawning would otherwise
                // copy more than once per message (perf: memmove was 5-9% of the scheduler).
                let work = Box::pin(handle(message));
                tokio::spawn(async move {
                    let handled = AssertUnwindSafe(work).catch_unwind().await;
                    contain(&containment, copy, delivered, handled).await;
                    drop(permit);
                });
            }
            Some(Err(e)) => {
                // Missed heartbeats and the like while NATS is away: the stream recovers by
                // itself; pause briefly instead of spinning.
                tracing::debug!(error = %e, "pull consumer error");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None => return Ok(()),
        }
    }
}

/// Settles what the handler could not: a failure is retried later or buried, a panic is
/// counted and retried, then buried.
async fn contain(
    containment: &Containment,
    message: Message,
    delivered: i64,
    handled: std::thread::Result<Handled>,
) {
    let (reason, bury) = match handled {
        Ok(Handled::Done) => return,
        Ok(Handled::Failed(reason)) => {
            let last = containment.exhausted(delivered, &message);
            (reason, last)
        }
        Err(panic) => {
            let consumer = message
                .info()
                .map(|i| i.consumer.to_owned())
                .unwrap_or_default();
            metrics::counter!(PANICS, "consumer" => consumer).increment(1);
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            tracing::error!(subject = %message.subject, delivered, panic = %what, "handling a message panicked");
            (
                format!("handling it panicked: {what}"),
                delivered >= PANICS_TO_BURY,
            )
        }
    };
    if bury {
        return containment.dead.bury(message, &reason).await;
    }
    tracing::warn!(subject = %message.subject, delivered, %reason, "a message was not handled; it will be delivered again");
    let (_, delivery) = crate::settle::split(message);
    delivery.again_after(backoff(delivered)).await;
}

/// Runs `work`, telling the consumer every `every` that the message is still being worked
/// on, so `ack_wait` does not hand it to another process meanwhile (a slow call, a large
/// batch).
pub async fn with_progress<T>(
    delivery: &Delivery,
    every: Duration,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => delivery.working().await,
        }
    }
}
