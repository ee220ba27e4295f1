//! Commands on their way in: published to the command stream (`ontime.cmd.<ns>.<id>`, or a
//! batch on `ontime.cmd.<ns>`), each de-duplicated by its command id and naming, when its
//! sender waits for one, the inbox the scheduler replies on. The gateway publishes them so;
//! any service may (docs/wire.md).

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind};
use bytes::Bytes;

use crate::silence::Watch;
use crate::{NatsError, headers};

/// Where commands are published.
#[derive(Clone)]
pub struct Commands {
    js: jetstream::Context,
    client: async_nats::Client,
    /// Reconnects the client after a long silence (see [`crate::silence`]).
    watch: Arc<Watch>,
}

/// A command published, its acknowledgement to come.
pub struct Sent {
    ack: jetstream::context::PublishAckFuture,
    watch: Arc<Watch>,
}

/// JetStream took the command: it is stored, now or by an earlier publish of the same id.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// An earlier publish under the same command id was stored, not this one.
    pub duplicate: bool,
}

impl Commands {
    /// Commands published with `js` on `client`, which reconnects after `silence` without
    /// any ack.
    pub(crate) fn new(
        js: jetstream::Context,
        client: async_nats::Client,
        silence: Duration,
    ) -> Self {
        let watch = Arc::new(Watch::new(client.clone(), silence, "commands"));
        Self { js, client, watch }
    }

    /// Whether the connection to NATS is up: while it is not, a publish would be buffered
    /// and sent on reconnection, long after its sender gave up.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// What the connection is, for an error message.
    pub fn connection(&self) -> String {
        self.client.connection_state().to_string()
    }

    /// Tells that a command's ack did not come within its sender's patience, which gave up
    /// waiting for it: after a long silence the client reconnects (see [`crate::silence`]).
    pub async fn unanswered(&self) {
        self.watch.note(false).await;
    }

    /// The largest message the server takes.
    pub fn max_payload(&self) -> usize {
        self.client.max_payload()
    }

    /// Sends the scheduler's reply to a command to the inbox its sender named. Not stored:
    /// a reply nobody waits for any more is dropped.
    pub async fn reply(&self, inbox: String, body: Bytes) -> Result<(), NatsError> {
        self.client
            .publish(inbox, body)
            .await
            .map_err(NatsError::nats)
    }

    /// Publishes `body` on `subject` under `command_id`, with `reply_to` as the inbox of the
    /// scheduler's reply; returns once it is handed to the connection.
    pub async fn publish(
        &self,
        subject: String,
        command_id: &str,
        reply_to: Option<&str>,
        body: Bytes,
    ) -> Result<Sent, NatsError> {
        let mut hdrs = async_nats::HeaderMap::new();
        hdrs.insert(headers::MSG_ID, command_id);
        if let Some(inbox) = reply_to {
            hdrs.insert(headers::REPLY_TO, inbox);
        }
        let ack = self
            .js
            .publish_with_headers(subject, hdrs, body)
            .await
            .map_err(|e| publish_error(e.kind(), &e))?;
        Ok(Sent {
            ack,
            watch: self.watch.clone(),
        })
    }
}

impl IntoFuture for Sent {
    type Output = Result<Accepted, NatsError>;
    type IntoFuture = futures::future::BoxFuture<'static, Self::Output>;

    /// JetStream's acknowledgement: [`NatsError::TimedOut`] when none came in time (the
    /// command may be stored all the same), [`NatsError::TooLarge`] when it was refused for
    /// its size.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let accepted = self
                .ack
                .await
                .map(|ack| Accepted {
                    duplicate: ack.duplicate,
                })
                .map_err(|e| publish_error(e.kind(), &e));
            let answered = !matches!(accepted, Err(NatsError::TimedOut));
            self.watch.note(answered).await;
            accepted
        })
    }
}

fn publish_error(kind: PublishErrorKind, detail: &dyn std::fmt::Display) -> NatsError {
    match kind {
        PublishErrorKind::TimedOut => NatsError::TimedOut,
        PublishErrorKind::MaxPayloadExceeded => NatsError::TooLarge,
        _ => NatsError::nats(detail),
    }
}
