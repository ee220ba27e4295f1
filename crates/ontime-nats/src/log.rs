//! The execution log: every attempt, on a per-timer subject of a stream that keeps the last
//! `log_per_timer` entries of each timer (the oldest are dropped first).

use async_nats::jetstream::{self, consumer};
use bytes::Bytes;
use ontime_core::TimerKey;
use ontime_core::timer::Attempt;

use crate::NatsError;
use crate::names::Names;
use crate::store::read_all;

/// Reads a timer's execution log, oldest first.
pub async fn read(
    js: &jetstream::Context,
    names: &Names,
    key: &TimerKey,
) -> Result<Vec<Attempt>, NatsError> {
    Ok(read_entries(js, names, key)
        .await?
        .into_iter()
        .map(|(_, attempt)| attempt)
        .collect())
}

/// Reads a timer's execution log, oldest first, each attempt with its stream sequence (a
/// stable position, which the API uses as a pagination cursor).
pub async fn read_entries(
    js: &jetstream::Context,
    names: &Names,
    key: &TimerKey,
) -> Result<Vec<(u64, Attempt)>, NatsError> {
    let stream = js
        .get_stream(names.log_stream())
        .await
        .map_err(NatsError::nats)?;
    let messages = read_all(
        &stream,
        names.log_subject(key),
        consumer::DeliverPolicy::All,
    )
    .await?;
    Ok(messages
        .into_iter()
        .filter_map(|(payload, seq, _)| Some((seq, serde_json::from_slice(&payload).ok()?)))
        .collect())
}

/// Appends an attempt; returns the publish-ack future so callers can await many at once.
pub async fn append(
    js: &jetstream::Context,
    names: &Names,
    attempt: &Attempt,
    key: &TimerKey,
) -> Result<jetstream::context::PublishAckFuture, NatsError> {
    let body =
        Bytes::from(serde_json::to_vec(attempt).map_err(|e| NatsError::Corrupt(e.to_string()))?);
    js.publish(names.log_subject(key), body)
        .await
        .map_err(NatsError::nats)
}
