//! The scheduler's use of the shared pull loop, and how its messages that cannot be handled
//! end (see [`ontime_nats::pull`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{Message, consumer::PullConsumer};
use bytes::Bytes;
use ontime_core::command::{BatchReply, Reply};
use ontime_core::{ErrorCode, ValidationError};
use ontime_nats::Names;
use ontime_nats::pull::{Containment, Handled};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::commands::reply_subject;
use crate::{Ctx, SchedulerError};

/// Deliveries after which a command, batch or report that still fails is buried, once it is
/// also [`MAX_AGE`] old.
pub const COMMAND_DELIVERIES: i64 = 100;
/// The same for wake-ups, which a failed firing hands back at once.
pub const WAKE_DELIVERIES: i64 = 1000;
/// How long a failing message of the scheduler's is tried again before it may be buried: an
/// outage of NATS shorter than this never costs a timer.
pub const MAX_AGE: Duration = Duration::from_secs(3600);

/// Pulls from `consumer`, each message handled while it holds one of `permits`; those that
/// fail past `max_deliveries`, or panic, are buried and their publishers told.
pub async fn consume<F, Fut>(
    ctx: Arc<Ctx>,
    consumer: PullConsumer,
    permits: Arc<Semaphore>,
    shutdown: CancellationToken,
    max_deliveries: i64,
    handle: F,
) -> Result<(), SchedulerError>
where
    F: Fn(Arc<Ctx>, Message) -> Fut,
    Fut: Future<Output = Handled> + Send + 'static,
{
    let names = ctx.topology.names().clone();
    let containment = Containment {
        dead: ctx
            .topology
            .dead
            .clone()
            .answering(Arc::new(move |message, reason| {
                last_words(&names, message, reason)
            })),
        max_deliveries,
        max_age: MAX_AGE,
    };
    ontime_nats::pull::consume(consumer, permits, shutdown, containment, |message| {
        handle(ctx.clone(), message)
    })
    .await?;
    Ok(())
}

/// The answer to the publisher of a buried command or batch, if it waits: an internal error
/// (a bug, or a failure that lasted), in the shape it expects.
fn last_words(names: &Names, message: &Message, reason: &str) -> Option<(String, Bytes)> {
    let to = reply_subject(message)?;
    let error = ValidationError::new(
        ErrorCode::Internal,
        format!("the command could not be applied and was set aside for an operator: {reason}"),
    );
    let body = if names.namespace_of_batch_subject(&message.subject).is_some() {
        serde_json::to_vec(&BatchReply {
            results: Vec::new(),
            error: Some(error),
        })
    } else {
        serde_json::to_vec(&Reply::failed(error))
    };
    Some((to, Bytes::from(body.ok()?)))
}
