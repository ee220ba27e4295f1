//! The pull loop both consumers share: take a permit, then a message, and handle it in a
//! task of its own, so one slow command never holds up the others.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{Message, consumer::PullConsumer};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::{Ctx, SchedulerError};

pub async fn consume<F, Fut>(
    ctx: Arc<Ctx>,
    consumer: PullConsumer,
    shutdown: CancellationToken,
    handle: F,
) -> Result<(), SchedulerError>
where
    F: Fn(Arc<Ctx>, Message) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let batch = ctx.config.concurrency.clamp(1, 1000);
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(ontime_nats::NatsError::nats)?;
    loop {
        // The permit comes first: an instance at capacity pulls nothing it cannot start.
        let permit = tokio::select! {
            permit = ctx.permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => return Ok(()),
        };
        let next = tokio::select! {
            next = messages.next() => next,
            _ = shutdown.cancelled() => return Ok(()),
        };
        match next {
            Some(Ok(message)) => {
                let work = handle(ctx.clone(), message);
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
