//! Settling a delivered message: the one place that speaks JetStream's acknowledgements. A
//! handler splits what it was delivered into its content and a [`Delivery`], and settles that
//! in the domain's words: done, again (now or after a while), never (no one can handle it),
//! or still being worked on.
//!
//! A settle that fails is logged, not retried: the message is then delivered again once its
//! ack wait is over, which every handler tolerates (each step is idempotent).

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::message::Acker;

/// What settles one delivered message.
pub struct Delivery(Acker);

/// Splits a delivered message into its content and what settles it.
pub fn split(message: async_nats::jetstream::Message) -> (async_nats::Message, Delivery) {
    let (message, acker) = message.split();
    (message, Delivery(acker))
}

impl Delivery {
    /// Handled: the message is not delivered again.
    pub async fn done(self) {
        self.settle(AckKind::Ack, "ack").await
    }

    /// Not handled: delivered again at once (to this process or another).
    pub async fn again(self) {
        self.settle(AckKind::Nak(None), "nak").await
    }

    /// Not handled: delivered again after `wait`.
    pub async fn again_after(self, wait: Duration) {
        self.settle(AckKind::Nak(Some(wait)), "nak").await
    }

    /// No one can handle it (unreadable, or refused for good): never delivered again.
    pub async fn never(self) {
        self.settle(AckKind::Term, "term").await
    }

    /// Still being worked on: its ack wait starts again.
    pub async fn working(&self) {
        if let Err(e) = self.0.ack_with(AckKind::Progress).await {
            tracing::debug!(error = %e, "progress ack failed");
        }
    }

    async fn settle(self, kind: AckKind, what: &str) {
        if let Err(e) = self.0.ack_with(kind).await {
            tracing::debug!(error = %e, what, "settling failed; the message will be delivered again after its ack wait");
        }
    }
}
