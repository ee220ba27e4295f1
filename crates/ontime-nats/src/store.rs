//! The timers' state in the KV bucket: typed reads for everyone, compare-and-set writes for
//! the scheduler (its only writer).

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use bytes::Bytes;
use futures::StreamExt;
use ontime_core::timer::{TimerRecord, TimerStatus};
use ontime_core::{Namespace, TimerKey};

use crate::NatsError;
use crate::headers;
use crate::names::Names;

/// A timer's KV slot: the record, if there is a live one, and the revision to CAS against.
/// A slot whose entry expired or was purged has `record: None` and the marker's revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub record: Option<TimerRecord>,
    pub revision: u64,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<(TimerRecord, u64)>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Typed access to the timers bucket.
#[derive(Clone)]
pub struct TimerStore {
    js: jetstream::Context,
    kv: kv::Store,
    names: Names,
    retention: Duration,
    /// Read through the stream leader: the bucket has replicas (see [`Self::get`]).
    leader_reads: bool,
}

impl TimerStore {
    pub(crate) fn new(
        js: jetstream::Context,
        kv: kv::Store,
        names: Names,
        retention: Duration,
        replicas: usize,
    ) -> Self {
        Self {
            js,
            kv,
            names,
            retention,
            leader_reads: replicas > 1,
        }
    }

    /// This store, reading through the stream leader even with one replica.
    pub fn reading_through_leader(mut self) -> Self {
        self.leader_reads = true;
        self
    }

    /// Reads a timer's slot. With replicas, through the bucket's stream leader, never a direct
    /// get, which any replica may answer from a state a little behind (the chaos soak saw it
    /// on a 3-node cluster: workers calling timers whose delete was acknowledged, schedulers
    /// dropping wake-ups as stale); the answer reflects every write acknowledged before the
    /// call. With one replica a direct get is as fresh, and cheaper for the server.
    pub async fn get(&self, key: &TimerKey) -> Result<Slot, NatsError> {
        let subject = format!(
            "$KV.{}.{}",
            self.names.timers_bucket(),
            self.names.timer_key(key)
        );
        let absent = Slot {
            record: None,
            revision: 0,
        };
        let stream = &self.kv.stream;
        let message = if self.leader_reads {
            match stream.get_last_raw_message_by_subject(&subject).await {
                Ok(message) => message,
                Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                    return Ok(absent);
                }
                Err(e) => return Err(NatsError::nats(e)),
            }
        } else {
            match stream.direct_get_last_for_subject(subject.as_str()).await {
                Ok(message) => message,
                Err(e) if e.kind() == stream::DirectGetErrorKind::NotFound => return Ok(absent),
                Err(e) => return Err(NatsError::nats(e)),
            }
        };
        // A delete, a purge, or the marker a TTL expiry leaves has no record.
        let removed = message.headers.get("KV-Operation").is_some()
            || message.headers.get("Nats-Marker-Reason").is_some()
            || message.payload.is_empty();
        if removed {
            return Ok(Slot {
                record: None,
                revision: message.sequence,
            });
        }
        let record = serde_json::from_slice(&message.payload)
            .map_err(|e| NatsError::Corrupt(format!("{key}: {e}")))?;
        Ok(Slot {
            record: Some(record),
            revision: message.sequence,
        })
    }

    pub async fn get_live(&self, key: &TimerKey) -> Result<Option<(TimerRecord, u64)>, NatsError> {
        let slot = self.get(key).await?;
        Ok(slot.record.map(|r| (r, slot.revision)))
    }

    /// Writes `record` if the slot is still at `expected_revision` (0: the key never existed).
    /// Finished timers are written with a TTL of `retention`, so the bucket does not grow
    /// without bound. Returns the new revision, or [`NatsError::Conflict`].
    pub async fn write(
        &self,
        record: &TimerRecord,
        expected_revision: u64,
    ) -> Result<u64, NatsError> {
        let subject = format!(
            "$KV.{}.{}",
            self.names.timers_bucket(),
            self.names.timer_key(&record.key())
        );
        let mut hdrs = async_nats::HeaderMap::new();
        hdrs.insert(
            headers::EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected_revision.to_string().as_str(),
        );
        if record.status.is_final() {
            hdrs.insert(
                headers::TTL,
                format!("{}s", self.retention.as_secs().max(1)).as_str(),
            );
        }
        let body =
            Bytes::from(serde_json::to_vec(record).map_err(|e| NatsError::Corrupt(e.to_string()))?);
        let ack = self
            .js
            .publish_with_headers(subject, hdrs, body)
            .await
            .map_err(NatsError::nats)?;
        match ack.await {
            Ok(ack) => Ok(ack.sequence),
            Err(e) if is_wrong_last_sequence(&e) => Err(NatsError::Conflict),
            Err(e) => Err(NatsError::nats(e)),
        }
    }

    /// Lists the timers of a namespace in a stable order (by id encoding), optionally only
    /// those with `status`, starting after `cursor` (an id from a previous page).
    ///
    /// Reads the namespace's latest entries with an ordered consumer: cost grows with the
    /// namespace's size, not with the page size.
    pub async fn list(
        &self,
        ns: &Namespace,
        status: Option<TimerStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, NatsError> {
        let filter = format!("$KV.{}.{}.>", self.names.timers_bucket(), ns.token());
        let stream = self
            .js
            .get_stream(format!("KV_{}", self.names.timers_bucket()))
            .await
            .map_err(NatsError::nats)?;
        let messages = read_all(&stream, filter, consumer::DeliverPolicy::LastPerSubject).await?;
        let mut items: Vec<(TimerRecord, u64)> = Vec::with_capacity(messages.len());
        for (payload, seq, is_put) in messages {
            if !is_put {
                continue;
            }
            let Ok(record) = serde_json::from_slice::<TimerRecord>(&payload) else {
                continue;
            };
            if status.is_some_and(|s| s != record.status) {
                continue;
            }
            if status.is_none() && record.status == TimerStatus::Cancelled {
                continue;
            }
            items.push((record, seq));
        }
        items.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        let start = match cursor {
            Some(c) => items.partition_point(|(r, _)| r.id.as_str() <= c),
            None => 0,
        };
        let mut page: Vec<_> = items.into_iter().skip(start).take(limit + 1).collect();
        let next_cursor = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|(r, _)| r.id.to_string())
        } else {
            None
        };
        Ok(Page {
            items: page,
            next_cursor,
        })
    }
}

fn is_wrong_last_sequence(e: &async_nats::jetstream::context::PublishError) -> bool {
    // JetStream answers err_code 10071 ("wrong last sequence") to a failed CAS.
    let text = e.to_string();
    text.contains("10071") || text.contains("wrong last sequence")
}

/// Reads every message an ordered consumer with `filter` and `policy` has pending at the
/// start: `(payload, stream sequence, is a KV put)`.
pub(crate) async fn read_all(
    stream: &jetstream::stream::Stream,
    filter: String,
    deliver_policy: consumer::DeliverPolicy,
) -> Result<Vec<(Bytes, u64, bool)>, NatsError> {
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: filter,
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(NatsError::nats)?;
    let pending = consumer.cached_info().num_pending as usize;
    let mut out = Vec::with_capacity(pending);
    if pending == 0 {
        return Ok(out);
    }
    let mut messages = consumer.messages().await.map_err(NatsError::nats)?;
    while out.len() < pending {
        let next = tokio::time::timeout(Duration::from_secs(5), messages.next()).await;
        let Ok(Some(Ok(msg))) = next else { break };
        let info = msg.info().map_err(NatsError::nats)?;
        let seq = info.stream_sequence;
        let is_put = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("KV-Operation"))
            .is_none_or(|op| op.as_str() == "PUT");
        out.push((msg.payload.clone(), seq, is_put));
        if info.pending == 0 {
            break;
        }
    }
    Ok(out)
}
