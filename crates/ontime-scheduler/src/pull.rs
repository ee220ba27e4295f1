//! The scheduler's use of the shared pull loop.

use std::future::Future;
use std::sync::Arc;

use async_nats::jetstream::{Message, consumer::PullConsumer};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::{Ctx, SchedulerError};

/// Pulls from `consumer`, each message handled while it holds one of `permits`.
pub async fn consume<F, Fut>(
    ctx: Arc<Ctx>,
    consumer: PullConsumer,
    permits: Arc<Semaphore>,
    shutdown: CancellationToken,
    handle: F,
) -> Result<(), SchedulerError>
where
    F: Fn(Arc<Ctx>, Message) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    ontime_nats::pull::consume(consumer, permits, shutdown, |message| {
        handle(ctx.clone(), message)
    })
    .await?;
    Ok(())
}
