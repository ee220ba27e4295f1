//! What the typed handles share to read and write a stream: the last message of a subject as
//! the stream leader has it, a bucket's last entry, a compare-and-set put, what a refused
//! publish means, and reads of many messages through an ordered consumer that refuse to come
//! back short.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use bytes::Bytes;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::NatsError;
use crate::headers;

/// The sequence of the last message on `subject` (wildcards allowed) as the stream leader
/// has it, `None` when there is none: never a direct get, which any replica may answer.
pub(crate) async fn last_sequence<I>(
    stream: &jetstream::stream::Stream<I>,
    subject: &str,
) -> Result<Option<u64>, NatsError> {
    Ok(leader_last(stream, subject).await?.map(|m| m.sequence))
}

/// The last message on `subject` (wildcards allowed) as the stream leader has it, `None` when
/// there is none.
async fn leader_last<I>(
    stream: &jetstream::stream::Stream<I>,
    subject: &str,
) -> Result<Option<async_nats::jetstream::message::StreamMessage>, NatsError> {
    match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(Some(message)),
        Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(None),
        Err(e) => Err(NatsError::nats(e)),
    }
}

/// The last entry of a bucket's key (`subject`, see [`Names::kv_subject`]), decoded, and its
/// revision: `(None, 0)` if the key has no entry, `(None, revision)` for a delete, a purge, or
/// the marker a TTL expiry leaves; a value that does not decode is [`NatsError::Corrupt`],
/// naming the entry by `what()`. With `leader_reads`, through the stream leader, never a direct get, which any
/// replica may answer from a state a little behind (the chaos soak saw it on a 3-node cluster:
/// workers calling timers whose delete was acknowledged, schedulers dropping wake-ups as
/// stale); the answer then reflects every write acknowledged before the call. With one
/// replica a direct get is as fresh, and cheaper for the server.
pub(crate) async fn last_entry<T: DeserializeOwned>(
    kv: &kv::Store,
    subject: &str,
    leader_reads: bool,
    what: impl FnOnce() -> String,
) -> Result<(Option<T>, u64), NatsError> {
    let message = if leader_reads {
        match leader_last(&kv.stream, subject).await? {
            Some(message) => message,
            None => return Ok((None, 0)),
        }
    } else {
        match kv.stream.direct_get_last_for_subject(subject).await {
            Ok(message) => message,
            Err(e) if e.kind() == stream::DirectGetErrorKind::NotFound => return Ok((None, 0)),
            Err(e) => return Err(NatsError::nats(e)),
        }
    };
    let removed = message.headers.get("KV-Operation").is_some()
        || message.headers.get("Nats-Marker-Reason").is_some()
        || message.payload.is_empty();
    if removed {
        return Ok((None, message.sequence));
    }
    let value = serde_json::from_slice(&message.payload)
        .map_err(|e| NatsError::Corrupt(format!("{}: {e}", what())))?;
    Ok((Some(value), message.sequence))
}

/// Publishes `body` on a bucket's `subject` (with `hdrs` besides) if the key is still at
/// `expected_revision` (0: it has no entry yet). Returns the new revision, or
/// [`NatsError::Conflict`] when another write came first.
pub(crate) async fn put_expecting(
    js: &jetstream::Context,
    subject: String,
    mut hdrs: async_nats::HeaderMap,
    body: Bytes,
    expected_revision: u64,
) -> Result<u64, NatsError> {
    hdrs.insert(
        headers::EXPECTED_LAST_SUBJECT_SEQUENCE,
        expected_revision.to_string().as_str(),
    );
    let ack = js
        .publish_with_headers(subject, hdrs, body)
        .await
        .map_err(NatsError::nats)?;
    Ok(ack.await.map_err(refused)?.sequence)
}

/// A refused publish, by kind: [`NatsError::Conflict`] when an expected-sequence check
/// failed, [`NatsError::InProcess`] when the same message id is being stored by another.
pub(crate) fn refused(e: async_nats::jetstream::context::PublishError) -> NatsError {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::context::PublishErrorKind;
    let code = std::error::Error::source(&e)
        .and_then(|source| source.downcast_ref::<async_nats::jetstream::Error>())
        .map(|error| error.error_code());
    match (e.kind(), code) {
        // A failed compare-and-set: "wrong last sequence", under either of its codes (the
        // second, in a cluster, when another write of the subject is still being replicated,
        // or within an atomic batch). Either way the record is read again.
        (PublishErrorKind::WrongLastSequence, _)
        | (_, Some(ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT)) => NatsError::Conflict,
        (_, Some(ErrorCode::STREAM_DUPLICATE_MESSAGE_CONFLICT)) => NatsError::InProcess,
        (PublishErrorKind::TimedOut, _) => NatsError::TimedOut,
        _ => NatsError::nats(e),
    }
}

/// Reads every message an ordered consumer with `filter` and `policy` has pending at the
/// start: `(payload, stream sequence, is a KV put)`.
pub(crate) async fn read_all<I>(
    stream: &jetstream::stream::Stream<I>,
    filter: String,
    deliver_policy: consumer::DeliverPolicy,
) -> Result<Vec<(Bytes, u64, bool)>, NatsError> {
    let mut out = Vec::new();
    for_each_pending(stream, filter, deliver_policy, |payload, seq, is_put| {
        out.push((payload, seq, is_put))
    })
    .await?;
    Ok(out)
}

/// How long a read of many messages waits for the next one before it gives up.
const READ_STALL: Duration = Duration::from_secs(5);

/// Hands `each` every message an ordered consumer with `filter` and `policy` has pending at
/// the start, as it arrives: `(payload, stream sequence, is a KV put)`. The consumer is
/// deleted once read: left to expire, those of frequent reads (a console refreshing a log)
/// would pile up to the server's limit on consumers, and every read, the schedulers' own
/// included, would then be refused.
///
/// nats-server may place the consumer on any replica of the stream, one that has not yet
/// applied the latest writes (a node just restarted): such a read looks whole and is not. So
/// the stream leader's last sequence of `filter` is asked first, and a read that does not
/// reach it ends in an error, which the caller may retry (another consumer may sit elsewhere):
/// what is read reflects every write acknowledged before the call, as a leader read does.
pub(crate) async fn for_each_pending<I>(
    stream: &jetstream::stream::Stream<I>,
    filter: String,
    deliver_policy: consumer::DeliverPolicy,
    mut each: impl FnMut(Bytes, u64, bool),
) -> Result<(), NatsError> {
    let leader_last = last_sequence(stream, &filter).await?;
    let mut read_last = None;
    let each = |payload, seq, is_put| {
        read_last = read_last.max(Some(seq));
        each(payload, seq, is_put)
    };
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: filter.clone(),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(NatsError::nats)?;
    let name = consumer.cached_info().name.clone();
    let read = read_pending(consumer, each).await;
    // An ordered consumer that had to be recreated on the way has another name: the first
    // one is gone already, and the other expires on its own.
    if let Err(e) = stream.delete_consumer(&name).await {
        tracing::debug!(error = %e, consumer = %name, "deleting a read's consumer failed; it expires on its own");
    }
    read?;
    reaches(&filter, read_last, leader_last)
}

/// Whether a read of `filter` whose last sequence is `read` saw everything the leader had
/// stored before it (up to `leader`). What was stored after the leader was asked may or may
/// not be in the read.
fn reaches(filter: &str, read: Option<u64>, leader: Option<u64>) -> Result<(), NatsError> {
    match (read, leader) {
        (_, None) => Ok(()),
        (Some(read), Some(leader)) if read >= leader => Ok(()),
        (read, Some(leader)) => Err(NatsError::Nats(format!(
            "the read of {filter} ended at sequence {}, short of the stream leader's {leader}: \
             a replica behind answered it",
            read.unwrap_or(0)
        ))),
    }
}

async fn read_pending(
    consumer: consumer::Consumer<consumer::pull::OrderedConfig>,
    mut each: impl FnMut(Bytes, u64, bool),
) -> Result<(), NatsError> {
    let pending = consumer.cached_info().num_pending as usize;
    if pending == 0 {
        return Ok(());
    }
    let mut messages = consumer.messages().await.map_err(NatsError::nats)?;
    let mut seen = 0;
    while seen < pending {
        // A read that stops short must not pass for the whole (a listing would end early,
        // its last page without a cursor): an error, which the caller may retry.
        let msg = match tokio::time::timeout(READ_STALL, messages.next()).await {
            Ok(Some(Ok(msg))) => msg,
            Ok(Some(Err(e))) => return Err(NatsError::nats(e)),
            Ok(None) => {
                return Err(NatsError::Nats(format!(
                    "the read ended after {seen} of {pending} messages"
                )));
            }
            Err(_) => {
                return Err(NatsError::Nats(format!(
                    "the read stalled after {seen} of {pending} messages"
                )));
            }
        };
        let info = msg.info().map_err(NatsError::nats)?;
        let seq = info.stream_sequence;
        let left = info.pending;
        let is_put = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("KV-Operation"))
            .is_none_or(|op| op.as_str() == "PUT");
        each(msg.payload.clone(), seq, is_put);
        seen += 1;
        if left == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_nats::jetstream::context::{PublishError, PublishErrorKind};

    use super::{NatsError, reaches, refused};

    /// A publish refused by the server with JetStream's `err_code`, as async-nats reports it.
    fn answered(kind: PublishErrorKind, err_code: u64) -> PublishError {
        let error: async_nats::jetstream::Error = serde_json::from_value(serde_json::json!({
            "code": 400, "err_code": err_code, "description": "refused"
        }))
        .unwrap();
        PublishError::with_source(kind, error)
    }

    #[test]
    fn refusals_are_told_by_their_codes() {
        let wrong_last = answered(PublishErrorKind::WrongLastSequence, 10071);
        assert!(matches!(refused(wrong_last), NatsError::Conflict));
        // The same refusal without the sequence, which async-nats gives no kind of its own.
        let in_flight = answered(PublishErrorKind::Other, 10164);
        assert!(matches!(refused(in_flight), NatsError::Conflict));
        let in_process = answered(PublishErrorKind::Other, 10158);
        assert!(matches!(refused(in_process), NatsError::InProcess));
        let late = PublishError::new(PublishErrorKind::TimedOut);
        assert!(matches!(refused(late), NatsError::TimedOut));
        let other = answered(PublishErrorKind::Other, 10999);
        assert!(matches!(refused(other), NatsError::Nats(_)));
    }

    #[test]
    fn a_read_short_of_the_leaders_last_sequence_is_refused() {
        let f = "x.>";
        assert!(
            reaches(f, None, None).is_ok(),
            "nothing stored, nothing read"
        );
        assert!(reaches(f, Some(5), Some(5)).is_ok());
        assert!(
            reaches(f, Some(9), Some(5)).is_ok(),
            "stored after the leader was asked"
        );
        assert!(
            reaches(f, None, Some(5)).is_err(),
            "an empty read of a filter that has messages"
        );
        assert!(reaches(f, Some(4), Some(5)).is_err());
    }
}
