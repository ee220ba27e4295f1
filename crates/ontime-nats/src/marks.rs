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

use crate::NatsError;
use crate::names::Names;
use crate::streams::{last_entry, put_expecting};

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
        self.names.kv_subject(&self.names.marks_bucket(), key)
    }

    /// The timer's mark, if one was raised within [`MARK_TTL`]; as fresh as every raise
    /// acknowledged before the call.
    pub async fn get(&self, key: &TimerKey) -> Result<Option<Mark>, NatsError> {
        Ok(self.read(key).await?.0)
    }

    async fn read(&self, key: &TimerKey) -> Result<(Option<Mark>, u64), NatsError> {
        let what = || format!("mark of {key}");
        last_entry(&self.kv, &self.subject(key), self.leader_reads, what).await
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
            let hdrs = async_nats::HeaderMap::new();
            match put_expecting(&self.js, self.subject(key), hdrs, body.clone(), revision).await {
                Ok(_) => return Ok(()),
                Err(NatsError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
