//! The pull loop every consumer of ontime shares (schedulers' commands and wake-ups,
//! workers' calls): take a permit, then a message, and handle it in a task of its own, so one
//! slow message never holds up the others and a busy process pulls nothing it cannot start.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{AckKind, Message, consumer::PullConsumer};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::NatsError;

/// Pulls from `consumer` until `shutdown` is cancelled, running `handle` on each message in
/// a task that holds one of `permits`. Returns when shutdown is asked or the stream ends; the
/// caller waits for the permits to come back to drain the work in flight.
pub async fn consume<F, Fut>(
    consumer: PullConsumer,
    permits: Arc<Semaphore>,
    shutdown: CancellationToken,
    handle: F,
) -> Result<(), NatsError>
where
    F: Fn(Message) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
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
                // Boxed: a handler's future is several KiB, which spawning would otherwise
                // copy more than once per message (perf: memmove was 5-9% of the scheduler).
                let work = Box::pin(handle(message));
                tokio::spawn(async move {
                    work.await;
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

/// Runs `work`, telling the consumer every `every` that the message is still being worked
/// on, so `ack_wait` does not hand it to another process meanwhile (a slow call, a large
/// batch).
pub async fn with_progress<T>(acker: &Acker, every: Duration, work: impl Future<Output = T>) -> T {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                if let Err(e) = acker.ack_with(AckKind::Progress).await {
                    tracing::debug!(error = %e, "progress ack failed");
                }
            }
        }
    }
}
