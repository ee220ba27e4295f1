//! Results of commands sent under an idempotency key ([`Remembered`]), one entry per key in a
//! bucket of its own, kept `idempotency_retention` after the first use of the key.

use async_nats::jetstream::kv::{self, CreateErrorKind};
use bytes::Bytes;
use ontime_core::Namespace;
use ontime_core::idempotency::{Remembered, slot};

use crate::NatsError;
use crate::streams::last_entry;

/// Typed access to the idempotency bucket.
#[derive(Clone)]
pub struct IdempotencyStore {
    kv: kv::Store,
    leader_reads: bool,
}

impl IdempotencyStore {
    pub(crate) fn new(kv: kv::Store, replicas: usize) -> Self {
        Self {
            kv,
            leader_reads: replicas > 1,
        }
    }

    /// What the first command under `key` came to, if it was applied within the retention; as
    /// fresh as every entry acknowledged before the call (read through the stream leader when
    /// the bucket is replicated: a replica a little behind would take a key just used for a
    /// new one, and the command would be applied a second time).
    pub async fn get(
        &self,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<Remembered>, NatsError> {
        let subject = format!("{}{}", self.kv.prefix, slot(namespace, key));
        let what = || format!("idempotency entry of `{key}`");
        Ok(last_entry(&self.kv, &subject, self.leader_reads, what)
            .await?
            .0)
    }

    /// Remembers the first result under `key`. A key already remembered keeps its first
    /// result (two commands under one key raced): that one is returned as `Err(first)`.
    pub async fn remember(
        &self,
        namespace: &Namespace,
        key: &str,
        result: &Remembered,
    ) -> Result<Result<(), Remembered>, NatsError> {
        let body =
            Bytes::from(serde_json::to_vec(result).map_err(|e| NatsError::Corrupt(e.to_string()))?);
        match self.kv.create(slot(namespace, key), body).await {
            Ok(_) => Ok(Ok(())),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                match self.get(namespace, key).await? {
                    Some(first) => Ok(Err(first)),
                    // Expired in between: nothing to keep any more.
                    None => Ok(Ok(())),
                }
            }
            Err(e) => Err(NatsError::nats(e)),
        }
    }
}
