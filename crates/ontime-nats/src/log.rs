//! The execution log: every attempt, on a per-timer subject of a stream that keeps the last
//! `log_per_timer` entries of each timer (the oldest are dropped first). A worker's entry is
//! also its report to the schedulers, who consume the stream (`schedulers-reports`).

use async_nats::jetstream::{self, consumer};
use bytes::Bytes;
use ontime_core::TimerKey;
use ontime_core::timer::Attempt;

use crate::batch::Outgoing;
use crate::commit::{Committer, Grouping, Stored};
use crate::names::Names;
use crate::streams::read_all;
use crate::{NatsError, headers};

/// The writer of the execution log: entries written at the same time are stored together
/// (see [`crate::commit`]).
#[derive(Clone)]
pub struct Log {
    js: jetstream::Context,
    names: Names,
    writer: Committer,
}

impl Log {
    pub(crate) fn new(js: &jetstream::Context, names: Names, grouping: Grouping) -> Self {
        Self {
            js: js.clone(),
            names,
            writer: Committer::start(js.clone(), "log", grouping),
        }
    }

    /// Reads a timer's execution log, oldest first, each attempt with its stream sequence (a
    /// stable position, which the API uses as a pagination cursor).
    pub async fn entries(&self, key: &TimerKey) -> Result<Vec<(u64, Attempt)>, NatsError> {
        let stream = self
            .js
            .get_stream_no_info(self.names.log_stream())
            .await
            .map_err(NatsError::nats)?;
        let messages = read_all(
            &stream,
            self.names.log_subject(key),
            consumer::DeliverPolicy::All,
        )
        .await?;
        Ok(messages
            .into_iter()
            .filter_map(|(payload, seq, _)| Some((seq, serde_json::from_slice(&payload).ok()?)))
            .collect())
    }

    /// Appends an entry of the scheduler's own (a skipped occurrence).
    pub fn append(&self, attempt: &Attempt, key: &TimerKey) -> Result<Stored, NatsError> {
        self.write(attempt, key, async_nats::HeaderMap::new())
    }

    /// Stores a worker's account of one attempt: its log entry, which the schedulers also
    /// consume as the attempt's report (one message for both). `rearm`: the scheduler must
    /// hold the next retry. De-duplicated by `<delivery id>/a<attempt>`, so a report sent
    /// again is stored once.
    pub async fn report(
        &self,
        attempt: &Attempt,
        key: &TimerKey,
        rearm: bool,
    ) -> Result<(), NatsError> {
        let mut hdrs = async_nats::HeaderMap::new();
        let msg_id = format!("{}/a{}", attempt.delivery_id, attempt.attempt);
        hdrs.insert(headers::MSG_ID, msg_id.as_str());
        let kind = if rearm {
            headers::REPORT_REARM
        } else {
            headers::REPORT_ATTEMPT
        };
        hdrs.insert(headers::REPORT, kind);
        self.write(attempt, key, hdrs)?.await.map(drop)
    }

    fn write(
        &self,
        attempt: &Attempt,
        key: &TimerKey,
        hdrs: async_nats::HeaderMap,
    ) -> Result<Stored, NatsError> {
        let body = Bytes::from(
            serde_json::to_vec(attempt).map_err(|e| NatsError::Corrupt(e.to_string()))?,
        );
        Ok(self.writer.submit(Outgoing {
            subject: self.names.log_subject(key),
            headers: hdrs,
            body,
        }))
    }
}

/// The report an entry carries: `None` for the scheduler's own entries, else whether the
/// scheduler must hold the next retry.
pub fn report_of(hdrs: Option<&async_nats::HeaderMap>) -> Option<bool> {
    match hdrs?.get(headers::REPORT)?.as_str() {
        headers::REPORT_REARM => Some(true),
        _ => Some(false),
    }
}
