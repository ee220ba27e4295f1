//! Results of commands sent under an idempotency key ([`Remembered`]), one entry per key in a
//! bucket of its own, kept `idempotency_retention` after the first use of the key.

use async_nats::jetstream::kv::{self, CreateErrorKind};
use bytes::Bytes;
use ontime_core::Namespace;
use ontime_core::idempotency::{Remembered, slot};

use crate::NatsError;

/// Typed access to the idempotency bucket.
#[derive(Clone)]
pub struct IdempotencyStore {
    kv: kv::Store,
}

impl IdempotencyStore {
    pub(crate) fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    /// What the first command under `key` came to, if it was applied within the retention.
    pub async fn get(
        &self,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<Remembered>, NatsError> {
        let Some(bytes) = self
            .kv
            .get(slot(namespace, key))
            .await
            .map_err(NatsError::nats)?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| NatsError::Corrupt(format!("idempotency entry of `{key}`: {e}")))
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
