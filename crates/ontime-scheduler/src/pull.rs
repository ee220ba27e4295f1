//! The scheduler's use of the shared pull loop, and how its messages that cannot be handled
//! end (see [`ontime_nats::pull`]).

use std::future::Future;
use std::sync::Arc;

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

/// Deliveries after which a command, batch or report that still fails is buried: with the
/// pull loop's backoff (at most 10 s between tries), a quarter of an hour of failures.
pub const COMMAND_DELIVERIES: i64 = 100;
/// The same for wake-ups, which a failed firing hands back at once: enough for minutes of a
/// NATS outage before a wake-up that cannot fire is given up.
pub const WAKE_DELIVERIES: i64 = 1000;

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
