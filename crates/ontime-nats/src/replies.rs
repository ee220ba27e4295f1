//! Routing the schedulers' replies to the requests waiting for them.
//!
//! One wildcard subscription per gateway process (`<inbox>.*`) instead of one per request:
//! subscribing is a round trip to the server, and at batch rates it would cost more than
//! the commands themselves. Each waiting request owns a number; the scheduler replies on
//! `<inbox>.<number>` and the dispatcher hands the reply to that request, as it came: a
//! command's reply and a batch's do not read the same, and only the request knows which it
//! waits for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::NatsError;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

type Waiters = Mutex<HashMap<u64, oneshot::Sender<Bytes>>>;

/// Hands each reply to the request that waits for it. Cheap to clone; the subscription
/// ends when the last clone is dropped.
#[derive(Clone)]
pub struct ReplyRouter {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    waiters: Arc<Waiters>,
    next: AtomicU64,
    _stop: DropGuard,
}

impl ReplyRouter {
    /// Subscribes to `<a fresh inbox>.*` and starts dispatching.
    pub async fn start(client: &async_nats::Client) -> Result<Self, NatsError> {
        let prefix = client.new_inbox();
        let subscription = client
            .subscribe(format!("{prefix}.*"))
            .await
            .map_err(NatsError::nats)?;
        let waiters: Arc<Waiters> = Arc::default();
        let stop = CancellationToken::new();
        tokio::spawn(dispatch(subscription, waiters.clone(), stop.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                prefix,
                waiters,
                next: AtomicU64::new(1),
                _stop: stop.drop_guard(),
            }),
        })
    }

    /// Registers a waiter. Register before publishing the command: a fast scheduler may
    /// reply before the publish ack comes back.
    pub fn register(&self) -> Waiter {
        let number = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.waiters).insert(number, tx);
        Waiter {
            subject: format!("{}.{number}", self.inner.prefix),
            number,
            rx,
            waiters: self.inner.waiters.clone(),
        }
    }

    /// Requests waiting now (for tests and metrics).
    pub fn waiting(&self) -> usize {
        lock(&self.inner.waiters).len()
    }
}

/// One request's claim on a reply. Dropping it forgets the claim, so a request that gave up
/// (or whose command was a duplicate) leaves nothing behind.
pub struct Waiter {
    /// Where the scheduler must reply: the `Ontime-Reply-To` header.
    pub subject: String,
    number: u64,
    rx: oneshot::Receiver<Bytes>,
    waiters: Arc<Waiters>,
}

impl Waiter {
    /// The reply's body, or `None` if none came by `deadline`.
    pub async fn wait_until(mut self, deadline: Instant) -> Option<Bytes> {
        tokio::time::timeout_at(deadline, &mut self.rx)
            .await
            .ok()?
            .ok()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        lock(&self.waiters).remove(&self.number);
    }
}

fn lock(waiters: &Waiters) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Bytes>>> {
    // The map holds no invariant a panicking holder could break.
    waiters.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn dispatch(
    mut subscription: async_nats::Subscriber,
    waiters: Arc<Waiters>,
    stop: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => break,
            message = subscription.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let Some(number) = message
            .subject
            .rsplit('.')
            .next()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            tracing::debug!(subject = %message.subject, "a reply on a subject we did not hand out");
            continue;
        };
        let Some(tx) = lock(&waiters).remove(&number) else {
            // The request gave up (timeout) before the reply came: it already answered 202.
            continue;
        };
        let _ = tx.send(message.payload);
    }
    let _ = subscription.unsubscribe().await;
}
