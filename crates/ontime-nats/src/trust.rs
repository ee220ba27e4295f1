//! The trust bucket (`<PREFIX>_TRUST`): API tokens, each namespace's signing secrets and its
//! prerequisites, all small and read on every request or call. Each process that needs them
//! keeps a live copy ([`TrustView`]) fed by a watch of the bucket, so a lookup costs no round
//! trip and a revocation reaches every gateway and worker as soon as NATS delivers it.
//!
//! Keys: `token.<id>`, `signing.<ns>.<id>`, `prereq.<ns>.<name>`, `flow.<ns>` (a namespace's
//! flow limit) and `flow.<ns>.<host>` (its limit for one host), namespaces and names as
//! subject tokens, and `bootstrap`, taken once by the gateway that generates the first admin token.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use ontime_core::flow::FlowLimit;
use ontime_core::id::{Namespace, encode_token};
use ontime_core::trust::access::TokenRecord;
use ontime_core::trust::prerequisite::StoredPrerequisite;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::NatsError;

/// A namespace's signing secret as stored: the `whsec_…` secret sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub id: String,
    /// The sealed `whsec_…` secret.
    pub secret: String,
    /// What reads show of it (see `ontime_core::trust::signing::SigningSecret::hint`).
    pub hint: String,
    pub created_at: DateTime<Utc>,
}

/// A flow limit as stored: over a namespace's calls, or those to one host (`host`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFlowLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(flatten)]
    pub limit: FlowLimit,
}

/// How long a writer waits for its own change to reach its live copy.
const SETTLE_WAIT: Duration = Duration::from_secs(5);

/// Writes to the trust bucket.
#[derive(Clone)]
pub struct TrustStore {
    kv: kv::Store,
}

impl TrustStore {
    pub(crate) fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    /// A live copy of the bucket, loaded before this returns and kept current by a watch
    /// until every handle on it is dropped.
    pub async fn view(&self) -> Result<TrustView, NatsError> {
        TrustView::start(self.kv.clone()).await
    }

    /// Stores a new token; `Conflict` if its id is taken.
    pub async fn create_token(&self, record: &TokenRecord) -> Result<(), NatsError> {
        self.kv
            .create(token_key(&record.id), json(record)?)
            .await
            .map(drop)
            .map_err(|e| match e.kind() {
                kv::CreateErrorKind::AlreadyExists => NatsError::Conflict,
                _ => NatsError::nats(e),
            })
    }

    /// Takes the right to generate the first admin token: true for exactly one caller ever.
    pub async fn claim_bootstrap(&self) -> Result<bool, NatsError> {
        match self.kv.create("bootstrap", Bytes::from_static(b"1")).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(NatsError::nats(e)),
        }
    }

    pub async fn delete_token(&self, id: &str) -> Result<(), NatsError> {
        self.delete(token_key(id)).await
    }

    pub async fn put_signing_key(&self, ns: &Namespace, key: &SigningKey) -> Result<(), NatsError> {
        self.put(signing_key(ns, &key.id), json(key)?).await
    }

    pub async fn delete_signing_key(&self, ns: &Namespace, id: &str) -> Result<(), NatsError> {
        self.delete(signing_key(ns, id)).await
    }

    pub async fn put_prerequisite(
        &self,
        ns: &Namespace,
        prerequisite: &StoredPrerequisite,
    ) -> Result<(), NatsError> {
        self.put(prereq_key(ns, &prerequisite.name), json(prerequisite)?)
            .await
    }

    pub async fn delete_prerequisite(&self, ns: &Namespace, name: &str) -> Result<(), NatsError> {
        self.delete(prereq_key(ns, name)).await
    }

    pub async fn put_flow_limit(
        &self,
        ns: &Namespace,
        stored: &StoredFlowLimit,
    ) -> Result<(), NatsError> {
        self.put(flow_key(ns, stored.host.as_deref()), json(stored)?)
            .await
    }

    pub async fn delete_flow_limit(
        &self,
        ns: &Namespace,
        host: Option<&str>,
    ) -> Result<(), NatsError> {
        self.delete(flow_key(ns, host)).await
    }

    async fn put(&self, key: String, value: Bytes) -> Result<(), NatsError> {
        self.kv
            .put(key, value)
            .await
            .map(drop)
            .map_err(NatsError::nats)
    }

    async fn delete(&self, key: String) -> Result<(), NatsError> {
        // A purge leaves one marker instead of the key's history.
        self.kv.purge(key).await.map_err(NatsError::nats)
    }

    /// The bucket's last revision: a live copy that has reached it has seen every write made
    /// before this call.
    pub async fn last_revision(&self) -> Result<u64, NatsError> {
        last_sequence(&self.kv).await
    }
}

/// A live copy of the trust bucket. Clones share it.
#[derive(Clone)]
pub struct TrustView {
    entries: Arc<RwLock<BTreeMap<String, (Bytes, u64)>>>,
    /// The last revision applied.
    applied: watch::Receiver<u64>,
}

impl TrustView {
    async fn start(kv: kv::Store) -> Result<Self, NatsError> {
        let entries = Arc::new(RwLock::new(BTreeMap::new()));
        let (tx, applied) = watch::channel(0);
        let last = last_sequence(&kv).await?;
        let watcher = kv.watch_with_history(">").await.map_err(NatsError::nats)?;
        tokio::spawn(follow(kv, watcher, Arc::downgrade(&entries), tx));
        let view = Self { entries, applied };
        view.reach(last).await?;
        Ok(view)
    }

    /// Waits until the copy has applied `revision` (a write's, or the bucket's last).
    pub async fn reach(&self, revision: u64) -> Result<(), NatsError> {
        let mut applied = self.applied.clone();
        tokio::time::timeout(SETTLE_WAIT, applied.wait_for(|r| *r >= revision))
            .await
            .map_err(|_| NatsError::Nats("the trust bucket's watch is behind".into()))?
            .map_err(|_| NatsError::Nats("the trust bucket's watch stopped".into()))?;
        Ok(())
    }

    pub fn token(&self, id: &str) -> Option<TokenRecord> {
        self.get(&token_key(id))
    }

    pub fn tokens(&self) -> Vec<TokenRecord> {
        self.under("token.")
    }

    /// The namespace's signing secrets, oldest first.
    pub fn signing_keys(&self, ns: &Namespace) -> Vec<SigningKey> {
        let mut keys: Vec<SigningKey> = self.under(&format!("signing.{}.", ns.token()));
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        keys
    }

    /// A prerequisite and its revision (which changes whenever it is replaced).
    pub fn prerequisite(&self, ns: &Namespace, name: &str) -> Option<(StoredPrerequisite, u64)> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (value, revision) = entries.get(&prereq_key(ns, name))?;
        Some((decode(value)?, *revision))
    }

    pub fn prerequisites(&self, ns: &Namespace) -> Vec<StoredPrerequisite> {
        self.under(&format!("prereq.{}.", ns.token()))
    }

    /// The limit over the calls of `ns` (`host` `None`), or over those to `host`.
    pub fn flow_limit(&self, ns: &Namespace, host: Option<&str>) -> Option<FlowLimit> {
        self.get::<StoredFlowLimit>(&flow_key(ns, host))
            .map(|stored| stored.limit)
    }

    /// Every flow limit of `ns`: the namespace's first, then by host.
    pub fn flow_limits(&self, ns: &Namespace) -> Vec<StoredFlowLimit> {
        let mut limits: Vec<StoredFlowLimit> = self.get(&flow_key(ns, None)).into_iter().collect();
        limits.extend(self.under::<StoredFlowLimit>(&format!("flow.{}.", ns.token())));
        limits
    }

    fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        decode(&entries.get(key)?.0)
    }

    fn under<T: DeserializeOwned>(&self, prefix: &str) -> Vec<T> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(_, (v, _))| decode(v))
            .collect()
    }
}

/// Applies the bucket's changes to the copy until nobody holds it; a watch that ends (NATS
/// gone, the server restarted) is started again from the next revision.
async fn follow(
    kv: kv::Store,
    mut watcher: kv::Watch,
    entries: std::sync::Weak<RwLock<BTreeMap<String, (Bytes, u64)>>>,
    applied: watch::Sender<u64>,
) {
    loop {
        while let Some(next) = watcher.next().await {
            let Some(entries) = entries.upgrade() else {
                return;
            };
            let Ok(entry) = next else { break };
            {
                let mut map = entries.write().unwrap_or_else(|e| e.into_inner());
                match entry.operation {
                    kv::Operation::Put => {
                        map.insert(entry.key, (entry.value, entry.revision));
                    }
                    kv::Operation::Delete | kv::Operation::Purge => {
                        map.remove(&entry.key);
                    }
                }
            }
            applied.send_if_modified(|r| {
                let moved = entry.revision > *r;
                *r = (*r).max(entry.revision);
                moved
            });
        }
        if entries.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let from = *applied.borrow() + 1;
        match kv.watch_all_from_revision(from).await {
            Ok(w) => watcher = w,
            Err(e) => tracing::warn!(error = %e, "the trust bucket's watch failed; retrying"),
        }
    }
}

/// The bucket's last sequence, asked of the server (a store's `status` is its cached info).
async fn last_sequence(kv: &kv::Store) -> Result<u64, NatsError> {
    let info = kv.stream.get_info().await.map_err(NatsError::nats)?;
    Ok(info.state.last_sequence)
}

fn decode<T: DeserializeOwned>(value: &Bytes) -> Option<T> {
    serde_json::from_slice(value)
        .inspect_err(|e| tracing::warn!(error = %e, "an unreadable entry in the trust bucket"))
        .ok()
}

fn json<T: Serialize>(value: &T) -> Result<Bytes, NatsError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| NatsError::Corrupt(e.to_string()))
}

fn token_key(id: &str) -> String {
    format!("token.{}", encode_token(id))
}

fn signing_key(ns: &Namespace, id: &str) -> String {
    format!("signing.{}.{}", ns.token(), encode_token(id))
}

fn flow_key(ns: &Namespace, host: Option<&str>) -> String {
    match host {
        Some(host) => format!("flow.{}.{}", ns.token(), encode_token(host)),
        None => format!("flow.{}", ns.token()),
    }
}

fn prereq_key(ns: &Namespace, name: &str) -> String {
    format!("prereq.{}.{}", ns.token(), encode_token(name))
}
