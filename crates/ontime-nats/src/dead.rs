//! Dead letters: messages that no handler could settle. A message whose handling panicked
//! again and again, or that failed on every one of its deliveries, is copied to the
//! `<PREFIX>_DEAD` stream (with why, where it came from and how often it was delivered),
//! its waiting publisher is told, and it is terminated, so that it never blocks the
//! consumer's other messages. Operators read the stream (`nats stream view <PREFIX>_DEAD`)
//! and may publish a message again once its cause is fixed.

use std::sync::Arc;

use async_nats::jetstream::{self, Message};
use bytes::Bytes;

use crate::names::Names;
use crate::{NatsError, headers};

/// What to answer the publisher of a buried message that waits for a reply: the subject and
/// the body, or `None` when nobody waits.
pub type LastWords = Arc<dyn Fn(&Message, &str) -> Option<(String, Bytes)> + Send + Sync>;

/// Where buried messages go.
#[derive(Clone)]
pub struct DeadLetters {
    js: jetstream::Context,
    names: Names,
    last_words: Option<LastWords>,
}

impl DeadLetters {
    pub fn new(js: jetstream::Context, names: Names) -> Self {
        Self {
            js,
            names,
            last_words: None,
        }
    }

    /// Tells the publisher of each buried message what became of it, as `answer` says.
    pub fn answering(mut self, answer: LastWords) -> Self {
        self.last_words = Some(answer);
        self
    }

    /// Records `message` with `reason`, answers its publisher, and terminates it. Never
    /// fails: a message whose record cannot be stored is terminated all the same (and its
    /// content logged), since keeping it would block the consumer again.
    pub async fn bury(&self, message: Message, reason: &str) {
        metrics::counter!(DEAD_LETTERS, "consumer" => consumer_of(&message)).increment(1);
        tracing::error!(
            subject = %message.subject,
            %reason,
            payload = %String::from_utf8_lossy(&message.payload),
            "a message could not be handled; it goes to the dead letters"
        );
        if let Err(e) = self.record(&message, reason).await {
            tracing::error!(error = %e, subject = %message.subject, "recording a dead letter failed");
        }
        if let Some((subject, body)) = self.last_words.as_ref().and_then(|f| f(&message, reason))
            && let Err(e) = self.js.client().publish(subject, body).await
        {
            tracing::debug!(error = %e, "the answer to a dead letter was not sent");
        }
        crate::settle::split(message).1.never().await;
    }

    async fn record(&self, message: &Message, reason: &str) -> Result<(), NatsError> {
        let mut hdrs = message.headers.clone().unwrap_or_default();
        // The copy is a record, not the command again: its id must not de-duplicate
        // against the original, and nobody waits on it.
        hdrs.insert(headers::MSG_ID, dead_id(message).as_str());
        hdrs.insert(headers::DEAD_SUBJECT, message.subject.as_str());
        hdrs.insert(headers::DEAD_REASON, one_line(reason).as_str());
        if let Ok(info) = message.info() {
            hdrs.insert(headers::DEAD_STREAM, info.stream);
            hdrs.insert(headers::DEAD_CONSUMER, info.consumer);
            hdrs.insert(
                headers::DEAD_SEQUENCE,
                info.stream_sequence.to_string().as_str(),
            );
            hdrs.insert(
                headers::DEAD_DELIVERIES,
                info.delivered.to_string().as_str(),
            );
        }
        self.js
            .publish_with_headers(
                self.names.dead_subject(&consumer_of(message)),
                hdrs,
                message.payload.clone(),
            )
            .await
            .map_err(NatsError::nats)?
            .await
            .map_err(NatsError::nats)?;
        Ok(())
    }
}

/// The metric counting buried messages, by consumer.
pub const DEAD_LETTERS: &str = "ontime_dead_letters_total";

fn consumer_of(message: &Message) -> String {
    message
        .info()
        .map(|i| i.consumer.to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// One record per original message: a second burial of it (two processes) is de-duplicated.
fn dead_id(message: &Message) -> String {
    match message.info() {
        Ok(info) => format!("dead/{}/{}", info.stream, info.stream_sequence),
        Err(_) => format!("dead/{}", uuid_like(&message.payload)),
    }
}

fn uuid_like(payload: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    payload.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Header values are one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1024)
        .collect()
}
