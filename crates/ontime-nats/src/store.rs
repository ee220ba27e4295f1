//! The timers' state in the KV bucket: typed reads for everyone, compare-and-set writes for
//! the scheduler (its only writer).

use std::collections::{BTreeSet, BinaryHeap};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use bytes::Bytes;
use futures::StreamExt;
use ontime_core::metadata::{Metadata, TimerFilter};
use ontime_core::schedule::Schedule;
use ontime_core::timer::{TimerRecord, TimerStatus};
use ontime_core::{Namespace, TimerId, TimerKey};
use serde::de::DeserializeOwned;

use crate::NatsError;
use crate::batch;
use crate::commit::{Committer, Grouping};
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
    /// Writes records that change at the same time together (see [`crate::commit`]).
    writer: Committer,
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
        grouping: Grouping,
    ) -> Self {
        Self {
            writer: Committer::start(js.clone(), "records", grouping),
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

    /// Reads a timer's slot, as fresh as every write acknowledged before the call (see
    /// [`last_entry`]).
    pub async fn get(&self, key: &TimerKey) -> Result<Slot, NatsError> {
        let subject = self.names.kv_subject(&self.names.timers_bucket(), key);
        let (record, revision) =
            last_entry(&self.kv, &subject, self.leader_reads, || key.to_string()).await?;
        Ok(Slot { record, revision })
    }

    pub async fn get_live(&self, key: &TimerKey) -> Result<Option<(TimerRecord, u64)>, NatsError> {
        let slot = self.get(key).await?;
        Ok(slot.record.map(|r| (r, slot.revision)))
    }

    /// Writes `record` if the slot is still at `expected_revision` (0: the key never existed).
    /// Records written at the same time, by any task of this process, are stored in one
    /// atomic batch, each still checked against its own revision. Finished timers are written with a TTL of `retention`, so the bucket does not grow
    /// without bound. Returns the new revision, or [`NatsError::Conflict`].
    pub async fn write(
        &self,
        record: &TimerRecord,
        expected_revision: u64,
    ) -> Result<u64, NatsError> {
        let mut entry = self.entry(record)?;
        entry.headers.insert(
            headers::EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected_revision.to_string().as_str(),
        );
        self.writer.store(entry).await
    }

    /// Writes new timers (keys that never existed, or whose entries are gone) in atomic
    /// batches, and returns each one's revision, in order: all of them, or
    /// [`NatsError::Conflict`] when any key is taken (then nothing of that batch is written,
    /// though earlier batches of a list over [`batch::MAX`] are).
    pub async fn create_all(&self, records: &[TimerRecord]) -> Result<Vec<u64>, NatsError> {
        let mut revisions = Vec::with_capacity(records.len());
        for chunk in records.chunks(batch::MAX) {
            let mut entries = Vec::with_capacity(chunk.len());
            for record in chunk {
                let mut entry = self.entry(record)?;
                entry
                    .headers
                    .insert(headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "0");
                entries.push(entry);
            }
            revisions.extend(batch::publish(&self.js, entries).await?);
        }
        Ok(revisions)
    }

    /// The entry that stores `record`. Finished timers are written with a TTL of `retention`,
    /// so the bucket does not grow without bound.
    fn entry(&self, record: &TimerRecord) -> Result<batch::Outgoing, NatsError> {
        let subject = self
            .names
            .kv_subject(&self.names.timers_bucket(), &record.key());
        let mut hdrs = async_nats::HeaderMap::new();
        if record.status.is_final() {
            hdrs.insert(
                headers::TTL,
                format!("{}s", self.retention.as_secs().max(1)).as_str(),
            );
        }
        let body =
            Bytes::from(serde_json::to_vec(record).map_err(|e| NatsError::Corrupt(e.to_string()))?);
        Ok(batch::Outgoing {
            subject,
            headers: hdrs,
            body,
        })
    }

    /// Lists the timers of a namespace in a stable order (by id), optionally only those with
    /// `status` (cancelled timers only when asked for), starting after `cursor` (the id that
    /// ended the previous page). [`Self::list_matching`] with a status alone.
    pub async fn list(
        &self,
        ns: &Namespace,
        status: Option<TimerStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, NatsError> {
        self.list_matching(ns, &TimerFilter::status(status), limit, cursor)
            .await
    }

    /// The namespaces with at least one timer (cancelled ones included), from the stream's
    /// index of keys: no record is read.
    pub async fn namespaces(&self) -> Result<BTreeSet<Namespace>, NatsError> {
        namespaces_of(&self.kv.stream, &self.names.timers_bucket()).await
    }

    /// Lists the timers of a namespace that `filter` keeps, in a stable order (by id),
    /// starting after `cursor` (the id that ended the previous page).
    ///
    /// Memory follows the page, not the namespace: whatever is read on the way is kept only
    /// while it is among the first `limit + 1` (the server's index of keys also arrives in
    /// pages, of at most 100,000 keys).
    pub async fn list_matching(
        &self,
        ns: &Namespace,
        filter: &TimerFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, NatsError> {
        let wanted = limit + 1;
        let mut items = if filter.is_everything() {
            self.first_live(ns, cursor, wanted).await?
        } else {
            self.first_matching(ns, filter, cursor, wanted).await?
        };
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|(r, _)| r.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The first `wanted` timers after `cursor` that are not cancelled. The keys come from
    /// the stream's index of subjects, with no record read; only the next few of them (in id
    /// order) are kept and then read, a few at a time. Deleted or cancelled timers among them
    /// are passed over, and the next keys are listed if the page is not full yet.
    async fn first_live(
        &self,
        ns: &Namespace,
        cursor: Option<&str>,
        wanted: usize,
    ) -> Result<Vec<(TimerRecord, u64)>, NatsError> {
        let window = (wanted * 2).max(LIST_WINDOW_MIN);
        let mut after = cursor.map(str::to_owned);
        let mut items = Vec::with_capacity(wanted);
        loop {
            let keys = self.next_keys(ns, after.as_deref(), window).await?;
            let exhausted = keys.len() < window;
            after = keys.last().map(|k| k.id.to_string());
            let mut reads = futures::stream::iter(keys)
                .map(|key| async move { self.get(&key).await })
                .buffered(LIST_READS_AT_ONCE);
            while let Some(slot) = reads.next().await {
                let slot = match slot {
                    Ok(slot) => slot,
                    // As a listing has always done: an unreadable record is left out of it
                    // (a GET of its id reports it), not allowed to break every page.
                    Err(NatsError::Corrupt(e)) => {
                        tracing::warn!(error = %e, "an unreadable timer left out of a listing");
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                if let Some(record) = slot.record
                    && record.status != TimerStatus::Cancelled
                {
                    items.push((record, slot.revision));
                    if items.len() == wanted {
                        return Ok(items);
                    }
                }
            }
            if exhausted {
                return Ok(items);
            }
        }
    }

    /// The first `n` keys of the namespace after `after`, in id order, from the stream's
    /// index of subjects (a key whose entry was deleted may be among them).
    async fn next_keys(
        &self,
        ns: &Namespace,
        after: Option<&str>,
        n: usize,
    ) -> Result<Vec<TimerKey>, NatsError> {
        let prefix = format!("$KV.{}.", self.names.timers_bucket());
        let filter = format!("{prefix}{}.>", ns.token());
        let mut subjects = self
            .kv
            .stream
            .info_with_subjects(&filter)
            .await
            .map_err(NatsError::nats)?;
        let mut first = Smallest::new(n);
        while let Some(entry) = subjects.next().await {
            let (subject, _) = entry.map_err(NatsError::nats)?;
            let Some(key) = subject
                .strip_prefix(&prefix)
                .and_then(TimerKey::from_subject_suffix)
            else {
                continue;
            };
            if after.is_none_or(|a| key.id.as_str() > a) {
                first.offer(key);
            }
        }
        Ok(first.into_sorted())
    }

    /// The first `wanted` timers that `filter` keeps after `cursor`: every record of the
    /// namespace is read (a status and metadata are in the record only), and the first ones
    /// kept.
    async fn first_matching(
        &self,
        ns: &Namespace,
        filter: &TimerFilter,
        cursor: Option<&str>,
        wanted: usize,
    ) -> Result<Vec<(TimerRecord, u64)>, NatsError> {
        let subjects = format!("$KV.{}.{}.>", self.names.timers_bucket(), ns.token());
        let mut first = Smallest::new(wanted);
        for_each_pending(
            &self.kv.stream,
            subjects,
            consumer::DeliverPolicy::LastPerSubject,
            |payload, seq, is_put| {
                if !is_put {
                    return;
                }
                // Most records are passed over: read their id and status alone first, and
                // their schedule and metadata only when the filter asks about them.
                let Ok(head) = serde_json::from_slice::<RecordHead>(&payload) else {
                    return;
                };
                let kept = filter.admits_status(head.status)
                    && cursor.is_none_or(|c| head.id.as_str() > c)
                    && first.admits(|largest: &ById| head.id < largest.0.id)
                    && (!filter.reads_spec()
                        || serde_json::from_slice::<RecordLabels>(&payload).is_ok_and(|labels| {
                            let kind = labels.spec.schedule.kind();
                            filter.matches(head.status, kind, &labels.spec.metadata)
                        }));
                if !kept {
                    return;
                }
                if let Ok(record) = serde_json::from_slice::<TimerRecord>(&payload) {
                    first.offer(ById(record, seq));
                }
            },
        )
        .await?;
        Ok(first
            .into_sorted()
            .into_iter()
            .map(|ById(record, seq)| (record, seq))
            .collect())
    }
}

/// The namespaces of the keys of a bucket whose keys are `<ns>.…`, from its stream's index
/// of subjects. A key whose entry was deleted still names its namespace until it is purged.
pub(crate) async fn namespaces_of(
    stream: &jetstream::stream::Stream,
    bucket: &str,
) -> Result<BTreeSet<Namespace>, NatsError> {
    let prefix = format!("$KV.{bucket}.");
    let mut subjects = stream
        .info_with_subjects(format!("{prefix}>"))
        .await
        .map_err(NatsError::nats)?;
    let mut namespaces = BTreeSet::new();
    while let Some(entry) = subjects.next().await {
        let (subject, _) = entry.map_err(NatsError::nats)?;
        let namespace = subject
            .strip_prefix(&prefix)
            .and_then(|key| key.split('.').next())
            .and_then(ontime_core::id::decode_token)
            .and_then(|name| Namespace::parse(&name).ok());
        namespaces.extend(namespace);
    }
    Ok(namespaces)
}

/// A listing keeps at least this many keys per look at the namespace's index.
const LIST_WINDOW_MIN: usize = 64;
/// Records a listing reads at once.
const LIST_READS_AT_ONCE: usize = 16;

/// The `n` smallest of the items offered to it, in memory of `n` items.
struct Smallest<T: Ord> {
    n: usize,
    /// A max-heap: the largest kept is the first to go.
    kept: BinaryHeap<T>,
}

impl<T: Ord> Smallest<T> {
    fn new(n: usize) -> Self {
        Self {
            n,
            kept: BinaryHeap::with_capacity(n.saturating_add(1).min(1 << 16)),
        }
    }

    fn offer(&mut self, item: T) {
        if self.kept.len() < self.n {
            self.kept.push(item);
        } else if self.kept.peek().is_some_and(|largest| item < *largest) {
            self.kept.pop();
            self.kept.push(item);
        }
    }

    /// Whether an item would be kept, knowing only whether it is smaller than the largest
    /// kept: `smaller(largest)`.
    fn admits(&self, smaller: impl FnOnce(&T) -> bool) -> bool {
        self.kept.len() < self.n || self.kept.peek().is_some_and(smaller)
    }

    fn into_sorted(self) -> Vec<T> {
        self.kept.into_sorted_vec()
    }
}

/// What a status listing reads of every record: the rest is skipped, not decoded.
#[derive(serde::Deserialize)]
struct RecordHead {
    id: TimerId,
    status: TimerStatus,
}

/// What a listing filtered by schedule kind or metadata reads of a record that has the
/// status asked for.
#[derive(serde::Deserialize)]
struct RecordLabels {
    spec: SpecLabels,
}

#[derive(serde::Deserialize)]
struct SpecLabels {
    schedule: Schedule,
    #[serde(default)]
    metadata: Metadata,
}

/// A record at its revision, ordered by its id (ids are unique within a namespace).
struct ById(TimerRecord, u64);

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for ById {}

impl PartialOrd for ById {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ById {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.id.cmp(&other.0.id)
    }
}

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
