//! Calls whose target is a NATS subject: the message published for a timer on a subject of
//! the user's (see the worker's calls), on the connection ontime already has.

use std::time::Duration;

use bytes::Bytes;

/// Where calls to NATS subjects go out.
#[derive(Clone)]
pub struct Targets {
    js: async_nats::jetstream::Context,
}

impl Targets {
    pub(crate) fn new(js: async_nats::jetstream::Context) -> Self {
        Self { js }
    }

    /// Publishes `payload` on `subject`. On a subject a stream captures, the message carries
    /// `msg_id` as `Nats-Msg-Id` (the stream stores a retried call once) and the stream's
    /// acknowledgement is the success; on any other, it is published plainly, and the success
    /// is the server having taken it (subscribers connected at that instant get it; nobody
    /// else ever will). The error says what failed, for the attempt's log entry.
    pub async fn publish(
        &self,
        subject: &str,
        mut headers: async_nats::HeaderMap,
        payload: Bytes,
        msg_id: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let js = &self.js;
        tokio::time::timeout(timeout, async {
            let in_a_stream = match js.stream_by_subject(subject).await {
                Ok(_) => true,
                Err(e)
                    if e.kind()
                        == async_nats::jetstream::context::GetStreamByNameErrorKind::NotFound =>
                {
                    false
                }
                Err(e) => return Err(format!("finding the subject's stream failed: {e}")),
            };
            if in_a_stream {
                headers.insert(crate::headers::MSG_ID, msg_id);
                let ack = js
                    .publish_with_headers(subject.to_owned(), headers, payload)
                    .await
                    .map_err(|e| format!("publishing failed: {e}"))?;
                ack.await
                    .map_err(|e| format!("the stream did not store it: {e}"))?;
            } else {
                let client = js.client();
                client
                    .publish_with_headers(subject.to_owned(), headers, payload)
                    .await
                    .map_err(|e| format!("publishing failed: {e}"))?;
                client
                    .flush()
                    .await
                    .map_err(|e| format!("publishing failed: {e}"))?;
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|_| Err(format!("publishing took more than {}s", timeout.as_secs())))
    }
}
