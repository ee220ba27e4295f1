//! The scheduler's use of the shared pull loop.

use std::future::Future;
use std::sync::Arc;

use async_nats::jetstream::{Message, consumer::PullConsumer};
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
    let permits = ctx.permits.clone();
    ontime_nats::pull::consume(consumer, permits, shutdown, |message| {
        handle(ctx.clone(), message)
    })
    .await?;
    Ok(())
}
