//! The timers' state in the KV bucket: typed reads for everyone, compare-and-set writes for
//! the scheduler (its only writer).

use std::collections::{BTreeSet, BinaryHeap};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv};
use bytes::Bytes;
use futures::StreamExt;
use ontime_core::metadata::{Metadata, TimerFilter};
use ontime_core::schedule::Schedule;
use ontime_core::timer::{TimerRecord, TimerStatus};
use ontime_core::{Namespace, TimerId, TimerKey};

use crate::NatsError;
use crate::batch;
use crate::commit::{Committer, Grouping};
use crate::headers;
use crate::names::Names;
use crate::streams::{for_each_pending, last_entry};

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
