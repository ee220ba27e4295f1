//! Durable counters in a bucket of their own (`<PREFIX>_COUNTERS`): integer ids that facades
//! hand out (`next("crony")` gives 1, 2, 3…), unique across any number of gateways and never
//! given twice, because each value is taken by a compare-and-set on the counter's last entry.
//! A caller that fails after its increment leaves a gap; nothing else does.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use ontime_core::id::encode_token;

use crate::NatsError;
use crate::names::Names;
use crate::streams::{last_entry, put_expecting};

/// Typed access to the counters bucket.
#[derive(Clone)]
pub struct Counters {
    js: jetstream::Context,
    kv: kv::Store,
    names: Names,
    leader_reads: bool,
}

/// Longest wait between two tries after a lost compare-and-set.
const MAX_BACKOFF: Duration = Duration::from_millis(20);

impl Counters {
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

    /// The counter's key: its name as a token, so any name is a valid key.
    fn subject(&self, name: &str) -> String {
        format!(
            "$KV.{}.{}",
            self.names.counters_bucket(),
            encode_token(name)
        )
    }

    /// The counter's last value given, 0 if none was.
    pub async fn current(&self, name: &str) -> Result<u64, NatsError> {
        Ok(self.read(name).await?.0.unwrap_or(0))
    }

    async fn read(&self, name: &str) -> Result<(Option<u64>, u64), NatsError> {
        if name.is_empty() {
            return Err(NatsError::Nats("a counter needs a name".into()));
        }
        let what = || format!("counter {name}");
        last_entry(&self.kv, &self.subject(name), self.leader_reads, what).await
    }

    /// The counter's next value: 1 the first time, then one more than the last value given,
    /// whichever process asked for it. Retries while other callers take values first.
    pub async fn next(&self, name: &str) -> Result<u64, NatsError> {
        let mut tries: u32 = 0;
        loop {
            let (current, revision) = self.read(name).await?;
            let next = current
                .unwrap_or(0)
                .checked_add(1)
                .ok_or_else(|| NatsError::Corrupt(format!("counter {name} is exhausted")))?;
            let body = Bytes::from(next.to_string());
            let hdrs = async_nats::HeaderMap::new();
            match put_expecting(&self.js, self.subject(name), hdrs, body, revision).await {
                Ok(_) => return Ok(next),
                Err(NatsError::Conflict) => {
                    // Many callers at once: spread their next tries, so one of them wins
                    // each round instead of all of them reading and losing together.
                    tries = tries.saturating_add(1);
                    tokio::time::sleep(backoff(tries)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A wait of up to `tries` milliseconds (at most [`MAX_BACKOFF`]), varied by the clock's
/// nanoseconds: callers that lost the same round do not all come back at once.
fn backoff(tries: u32) -> Duration {
    let ceiling = u64::from(tries).min(MAX_BACKOFF.as_millis() as u64) * 1000;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    Duration::from_micros(nanos % ceiling.max(1))
}
