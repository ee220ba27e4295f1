//! The state of the flow limits, shared by every worker (bucket `<PREFIX>_FLOW`).
//!
//! - A rate is kept as the instant its next call may start (key `rate.<key>`). A worker
//!   reserves calls by moving that instant forward with a compare-and-set on the entry's
//!   revision, several calls at once when several wait, and each call starts at its own
//!   instant: calls are spaced by `1/rate` across all workers, and a worker's reservation
//!   costs one write however many calls it covers.
//! - A concurrency of `n` is `n` places (keys `slot.<key>.<i>`): a call takes a free one by
//!   creating it, with a time to live so that a place held by a worker that died frees itself,
//!   and gives it back by deleting it.

use std::time::Duration;

use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_TTL};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use ontime_core::id::encode_token;

use crate::NatsError;

/// How long an idle rate's entry is kept. Its instant is then long past, which is what no
/// entry means too.
pub const FLOW_TTL: Duration = Duration::from_secs(24 * 3600);

/// Compare-and-set rounds a reservation tries before it reports a conflict.
const ROUNDS: usize = 64;

/// Handle on the flow bucket.
#[derive(Clone)]
pub struct FlowState {
    js: jetstream::Context,
    kv: kv::Store,
    bucket: String,
}

/// A place taken under a concurrency limit; give it back with [`FlowState::give_back`].
#[derive(Debug)]
pub struct Place {
    key: String,
}

impl FlowState {
    pub(crate) fn new(js: jetstream::Context, kv: kv::Store, bucket: String) -> Self {
        Self { js, kv, bucket }
    }

    /// Reserves `calls` consecutive starts under the rate `spacing` of `key`, none before
    /// `now`: the instant of the first (the next ones follow it, `spacing` apart).
    pub async fn reserve(
        &self,
        key: &str,
        spacing: Duration,
        calls: u32,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, NatsError> {
        let key = format!("rate.{}", encode_token(key));
        let span = TimeDelta::from_std(spacing * calls).map_err(NatsError::nats)?;
        for _ in 0..ROUNDS {
            let entry = self.kv.entry(&key).await.map_err(NatsError::nats)?;
            let (next, revision) = match &entry {
                Some(e) if e.operation == kv::Operation::Put => (instant(&e.value), e.revision),
                Some(e) => (None, e.revision),
                None => (None, 0),
            };
            let first = next.map_or(now, |next| next.max(now));
            let value = Bytes::from((first + span).timestamp_micros().to_string());
            match self.kv.update(&key, value, revision).await {
                Ok(_) => return Ok(first),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(NatsError::nats(e)),
            }
        }
        Err(NatsError::Conflict)
    }

    /// Takes one of the `places` of `key`, held at most `lease` (then freed by NATS), or
    /// `None` when every one is taken.
    pub async fn take(
        &self,
        key: &str,
        places: u32,
        lease: Duration,
    ) -> Result<Option<Place>, NatsError> {
        let token = encode_token(key);
        // Starting from a random place spreads the workers over them.
        let start = rand::random_range(0..places.max(1));
        for i in 0..places {
            let key = format!("slot.{token}.{}", (start + i) % places);
            if self.create_leased(&key, lease).await? {
                return Ok(Some(Place { key }));
            }
        }
        Ok(None)
    }

    /// Creates `key` with a time to live, unless it holds a value: true if this call did.
    /// (`kv::Store::create_with_ttl` sets no time to live on a key that was deleted before.)
    async fn create_leased(&self, key: &str, lease: Duration) -> Result<bool, NatsError> {
        let last = match self.kv.entry(key).await.map_err(NatsError::nats)? {
            Some(entry) if entry.operation == kv::Operation::Put => return Ok(false),
            Some(entry) => entry.revision,
            None => 0,
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            last.to_string().as_str(),
        );
        // Whole seconds, at least one: what the server takes.
        let ttl = lease.as_secs().max(1).to_string();
        headers.insert(NATS_MESSAGE_TTL, ttl.as_str());
        let subject = format!("$KV.{}.{key}", self.bucket);
        let ack = self
            .js
            .publish_with_headers(subject, headers, Bytes::from_static(b"1"))
            .await
            .map_err(NatsError::nats)?;
        match ack.await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(false),
            Err(e) => Err(NatsError::nats(e)),
        }
    }

    /// Frees a place.
    pub async fn give_back(&self, place: Place) -> Result<(), NatsError> {
        self.kv.delete(&place.key).await.map_err(NatsError::nats)
    }
}

fn instant(value: &Bytes) -> Option<DateTime<Utc>> {
    let micros = std::str::from_utf8(value).ok()?.parse::<i64>().ok()?;
    DateTime::from_timestamp_micros(micros)
}
