//! Topics and their subscribers, one KV entry per topic (`<P>_TOPICS`, key `<ns>.<topic>`):
//! an occurrence reads every subscriber, as they are at that instant, in one read, and a
//! change of one subscriber is a compare-and-set of its topic's entry.
//!
//! Also the fan-outs (`<P>_FANOUTS`, kept a day): the subscribers each topic occurrence was
//! first fanned out to, so that a worker that fans it out again (its first died) hands it to
//! the same ones.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ontime_core::ValidationError;
use ontime_core::id::{Namespace, SubscriberId, TopicName, encode_token};
use ontime_core::topic::{SubscriberSpec, TopicRecord, TopicSpec};

use crate::NatsError;
use crate::names::Names;
use crate::streams::{last_entry, put_expecting};

/// How long the fan-out of an occurrence is remembered.
pub const FAN_OUT_TTL: Duration = Duration::from_secs(24 * 3600);

/// How many times a change is tried again when its topic moved between read and write.
const TRIES: usize = 20;

/// Largest stored topic (all its subscribers), below the server's 1 MB message limit.
pub const MAX_TOPIC_BYTES: usize = 768 * 1024;

/// Typed access to the topics.
#[derive(Clone)]
pub struct TopicStore {
    js: jetstream::Context,
    kv: kv::Store,
    fan_outs: kv::Store,
    names: Names,
    leader_reads: bool,
}

/// Why a change of a topic was not made.
#[derive(Debug)]
pub enum TopicError {
    /// The topic does not exist.
    NotFound,
    /// The change is refused (too many subscribers, too large).
    Refused(ValidationError),
    Nats(NatsError),
}

impl From<NatsError> for TopicError {
    fn from(e: NatsError) -> Self {
        Self::Nats(e)
    }
}

impl TopicStore {
    pub(crate) fn new(
        js: jetstream::Context,
        kv: kv::Store,
        fan_outs: kv::Store,
        names: Names,
        replicas: usize,
    ) -> Self {
        Self {
            js,
            kv,
            fan_outs,
            names,
            leader_reads: replicas > 1,
        }
    }

    fn subject(&self, ns: &Namespace, name: &TopicName) -> String {
        format!(
            "$KV.{}.{}.{}",
            self.names.topics_bucket(),
            ns.token(),
            name.token()
        )
    }

    /// The topic as stored and its revision.
    pub async fn get(
        &self,
        ns: &Namespace,
        name: &TopicName,
    ) -> Result<Option<(TopicRecord, u64)>, NatsError> {
        let (record, revision) = self.slot(ns, name).await?;
        Ok(record.map(|r| (r, revision)))
    }

    /// The topic, if it exists, and the revision of its key (a deleted topic's too: a new
    /// one is written after it).
    async fn slot(
        &self,
        ns: &Namespace,
        name: &TopicName,
    ) -> Result<(Option<TopicRecord>, u64), NatsError> {
        last_entry(&self.kv, &self.subject(ns, name), self.leader_reads, || {
            format!("topic {ns}/{name}")
        })
        .await
    }

    /// Creates the topic or changes its description and metadata (its subscribers kept).
    /// `true` when it was created.
    pub async fn define(
        &self,
        ns: &Namespace,
        name: &TopicName,
        spec: TopicSpec,
        now: DateTime<Utc>,
    ) -> Result<(TopicRecord, u64, bool), TopicError> {
        for _ in 0..TRIES {
            let (current, revision) = self.slot(ns, name).await?;
            let record = TopicRecord::defined(current.as_ref(), spec.clone(), now);
            match self.write(ns, name, &record, revision).await {
                Ok(revision) => return Ok((record, revision, current.is_none())),
                Err(TopicError::Nats(NatsError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TopicError::Nats(NatsError::Conflict))
    }

    /// Changes the description and metadata of an existing topic (`NotFound` if there is
    /// none: a change racing a deletion never brings the topic back).
    pub async fn redefine(
        &self,
        ns: &Namespace,
        name: &TopicName,
        spec: TopicSpec,
        now: DateTime<Utc>,
    ) -> Result<TopicRecord, TopicError> {
        let (record, ()) = self
            .change(ns, name, |record| {
                *record = TopicRecord::defined(Some(record), spec.clone(), now);
                Ok(())
            })
            .await?;
        Ok(record)
    }

    /// Sets one subscriber of an existing topic. `true` when it was added.
    pub async fn subscribe(
        &self,
        ns: &Namespace,
        name: &TopicName,
        id: &SubscriberId,
        spec: SubscriberSpec,
        now: DateTime<Utc>,
    ) -> Result<(TopicRecord, bool), TopicError> {
        self.change(ns, name, |record| {
            let added = !record.subscribers.contains_key(id);
            record.subscribe(id, spec.clone(), now).map(|()| added)
        })
        .await
    }

    /// Removes one subscriber; `false` if the topic did not have it.
    pub async fn unsubscribe(
        &self,
        ns: &Namespace,
        name: &TopicName,
        id: &SubscriberId,
        now: DateTime<Utc>,
    ) -> Result<bool, TopicError> {
        let (_, removed) = self
            .change(ns, name, |record| {
                let removed = record.subscribers.remove(id).is_some();
                if removed {
                    record.updated_at = now;
                }
                Ok(removed)
            })
            .await?;
        Ok(removed)
    }

    /// Deletes the topic and its subscribers; `false` if it did not exist.
    pub async fn delete(&self, ns: &Namespace, name: &TopicName) -> Result<bool, NatsError> {
        if self.get(ns, name).await?.is_none() {
            return Ok(false);
        }
        let key = format!("{}.{}", ns.token(), name.token());
        self.kv.purge(key).await.map_err(NatsError::nats)?;
        Ok(true)
    }

    /// The namespaces with at least one topic.
    pub async fn namespaces(&self) -> Result<std::collections::BTreeSet<Namespace>, NatsError> {
        crate::store::namespaces_of(&self.kv.stream, &self.names.topics_bucket()).await
    }

    /// The topics of `ns` in name order, `limit` of them after `cursor` (a name), and the
    /// cursor of the next page.
    pub async fn list(
        &self,
        ns: &Namespace,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<(TopicName, TopicRecord, u64)>, Option<String>), NatsError> {
        let prefix = format!("$KV.{}.{}.", self.names.topics_bucket(), ns.token());
        let subjects = self
            .kv
            .stream
            .info_with_subjects(format!("{prefix}*"))
            .await
            .map_err(NatsError::nats)?;
        use futures::StreamExt;
        let subjects: Vec<_> = subjects.collect().await;
        let mut names: Vec<TopicName> = Vec::with_capacity(subjects.len());
        for entry in subjects {
            let (subject, _) = entry.map_err(NatsError::nats)?;
            let name = subject
                .strip_prefix(prefix.as_str())
                .and_then(ontime_core::id::decode_token)
                .and_then(|name| TopicName::parse(&name).ok());
            names.extend(name);
        }
        names.sort();
        names.retain(|n| cursor.is_none_or(|c| n.as_str() > c));
        let more = names.len() > limit;
        names.truncate(limit);
        let mut items = Vec::with_capacity(names.len());
        for name in names {
            if let Some((record, revision)) = self.get(ns, &name).await? {
                items.push((name, record, revision));
            }
        }
        let next = more
            .then(|| items.last().map(|(n, _, _)| n.to_string()))
            .flatten();
        Ok((items, next))
    }

    /// The subscribers occurrence `delivery_id` of a topic timer goes to: those it was first
    /// fanned out to if it was, else `current` (the topic's as they are now), remembered.
    pub async fn fan_out(
        &self,
        delivery_id: &str,
        current: Vec<SubscriberId>,
    ) -> Result<Vec<SubscriberId>, NatsError> {
        let key = encode_token(delivery_id);
        let body = Bytes::from(
            serde_json::to_vec(&current).map_err(|e| NatsError::Corrupt(e.to_string()))?,
        );
        match self.fan_outs.create(&key, body).await {
            Ok(_) => Ok(current),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                let stored = self
                    .fan_outs
                    .get(&key)
                    .await
                    .map_err(NatsError::nats)?
                    .ok_or_else(|| {
                        NatsError::Nats(format!("the fan-out of {delivery_id} vanished"))
                    })?;
                serde_json::from_slice(&stored).map_err(|e| NatsError::Corrupt(e.to_string()))
            }
            Err(e) => Err(NatsError::nats(e)),
        }
    }

    /// Reads the topic, lets `change` alter it, writes it back if it was not changed
    /// meanwhile (else tries again).
    async fn change<T>(
        &self,
        ns: &Namespace,
        name: &TopicName,
        mut change: impl FnMut(&mut TopicRecord) -> Result<T, ValidationError>,
    ) -> Result<(TopicRecord, T), TopicError> {
        for _ in 0..TRIES {
            let Some((mut record, revision)) = self.get(ns, name).await? else {
                return Err(TopicError::NotFound);
            };
            let result = change(&mut record).map_err(TopicError::Refused)?;
            match self.write(ns, name, &record, revision).await {
                Ok(_) => return Ok((record, result)),
                Err(TopicError::Nats(NatsError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TopicError::Nats(NatsError::Conflict))
    }

    async fn write(
        &self,
        ns: &Namespace,
        name: &TopicName,
        record: &TopicRecord,
        expected_revision: u64,
    ) -> Result<u64, TopicError> {
        let body = serde_json::to_vec(record).map_err(|e| NatsError::Corrupt(e.to_string()))?;
        if body.len() > MAX_TOPIC_BYTES {
            return Err(TopicError::Refused(ValidationError::invalid(
                "",
                format!("a topic with its subscribers is at most {MAX_TOPIC_BYTES} bytes"),
            )));
        }
        Ok(put_expecting(
            &self.js,
            self.subject(ns, name),
            async_nats::HeaderMap::new(),
            Bytes::from(body),
            expected_revision,
        )
        .await?)
    }
}
