//! Timers' marks ([`Mark`]) in a bucket of their own. Only deletes and new definitions of
//! existing timers write it, so the workers' check at the due instant does not wait behind the
//! timers bucket's writes (every report is one, and under `sync_interval: always` each waits
//! for an fsync). A mark is kept for [`MARK_TTL`]: it only has to cover the moments between a
//! worker's read of the record, when the fire arrives, and the due instant.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use ontime_core::TimerKey;
use ontime_core::timer::Mark;

use crate::names::Names;
use crate::store::{is_wrong_last_sequence, last_entry};
use crate::{NatsError, headers};

/// How long a mark is kept after it was last raised.
pub const MARK_TTL: Duration = Duration::from_secs(600);

/// Typed access to the marks bucket.
#[derive(Clone)]
pub struct MarkStore {
    js: jetstream::Context,
    kv: kv::Store,
    names: Names,
    leader_reads: bool,
}

impl MarkStore {
    pub(crate) fn new(
        js: jetstream::Context,
        kv: kv::Store,
        names: Names,
        replicas: usize,
    ) -> Self {
        Self {
            js,
            kv,
            names,
            leader_reads: replicas > 1,
        }
    }

    fn subject(&self, key: &TimerKey) -> String {
        format!(
            "$KV.{}.{}",
            self.names.marks_bucket(),
            self.names.timer_key(key)
        )
    }

    /// The timer's mark, if one was raised within [`MARK_TTL`]; as fresh as every raise
    /// acknowledged before the call.
    pub async fn get(&self, key: &TimerKey) -> Result<Option<Mark>, NatsError> {
        Ok(self.read(key).await?.0)
    }

    async fn read(&self, key: &TimerKey) -> Result<(Option<Mark>, u64), NatsError> {
        let Some((value, revision)) =
            last_entry(&self.kv, &self.subject(key), self.leader_reads).await?
        else {
            return Ok((None, 0));
        };
        let mark = value
            .map(|payload| serde_json::from_slice(&payload))
            .transpose()
            .map_err(|e| NatsError::Corrupt(format!("mark of {key}: {e}")))?;
        Ok((mark, revision))
    }

    /// Raises the timer's mark to `mark`, unless it is already there or above: marks never go
    /// down, whichever of two schedulers writes last.
    pub async fn raise(&self, key: &TimerKey, mark: Mark) -> Result<(), NatsError> {
        let body =
            Bytes::from(serde_json::to_vec(&mark).map_err(|e| NatsError::Corrupt(e.to_string()))?);
        loop {
            let (current, revision) = self.read(key).await?;
            if current.is_some_and(|current| !mark.is_above(&current)) {
                return Ok(());
            }
            let mut hdrs = async_nats::HeaderMap::new();
            hdrs.insert(
                headers::EXPECTED_LAST_SUBJECT_SEQUENCE,
                revision.to_string().as_str(),
            );
            let ack = self
                .js
                .publish_with_headers(self.subject(key), hdrs, body.clone())
                .await
                .map_err(NatsError::nats)?;
            match ack.await {
                Ok(_) => return Ok(()),
                Err(e) if is_wrong_last_sequence(&e) => continue,
                Err(e) => return Err(NatsError::nats(e)),
            }
        }
    }
}
