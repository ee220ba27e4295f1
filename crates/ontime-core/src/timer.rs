//! A timer: its definition (`TimerSpec`), its stored state (`TimerRecord`, one KV entry) and
//! the document the API returns (`TimerView`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ValidationError;
use crate::id::{Namespace, TimerId, TimerKey};
use crate::retry::RetryPolicy;
use crate::schedule::Schedule;
use crate::target::Target;

/// What a client gives to create or replace a timer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerSpec {
    pub schedule: Schedule,
    pub target: Target,
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl TimerSpec {
    /// Checks and normalises every field; errors carry the path of the field at fault.
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        self.schedule.validate().map_err(|e| e.within("schedule"))?;
        self.target.validate().map_err(|e| e.within("target"))?;
        self.retry.validate().map_err(|e| e.within("retry"))?;
        Ok(())
    }
}

/// Where a timer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimerStatus {
    /// Waiting for its next due time.
    Scheduled,
    /// Fired; its call is being made or retried.
    Running,
    /// The call succeeded (one-time timers).
    Succeeded,
    /// The call failed for good: a final answer or the retry policy gave up.
    Failed,
    /// Deleted by a client.
    Cancelled,
}

impl TimerStatus {
    /// A timer in a final state fires no more unless it is redefined.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// How one attempt ended, as recorded on the timer and in the execution log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// 2xx: done.
    Succeeded,
    /// Failed, another attempt will follow.
    Retrying,
    /// Failed for good.
    Failed,
    /// The callback asked for the timer to run again at another time (`nextExecuteAt`).
    Rescheduled,
    /// The timer was changed or deleted before the attempt; no call was made.
    Superseded,
}

/// One attempt: the last one is kept on the timer; all of them go to the execution log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// Stable across retries and redeliveries of one occurrence (the `webhook-id` header).
    pub delivery_id: String,
    pub generation: u64,
    pub occurrence: u64,
    /// 1 for the first attempt of an occurrence.
    pub attempt: u32,
    #[schema(value_type = String, format = DateTime)]
    pub due_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    /// When the next attempt (retry) or occurrence (reschedule) is due, if one follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_at: Option<DateTime<Utc>>,
}

/// The stored state of a timer: the value of its KV entry. The scheduler is its only writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerRecord {
    pub namespace: Namespace,
    pub id: TimerId,
    pub spec: TimerSpec,
    pub status: TimerStatus,
    /// The command-stream sequence of the command that last defined the timer. Commands with a
    /// lower sequence are stale and never undo this one; occurrences carry it in their identity.
    pub generation: u64,
    /// The current occurrence, 1 for the first.
    pub occurrence: u64,
    /// When the command that set this generation was accepted: the base of `after`.
    pub anchor: DateTime<Utc>,
    /// When the pending wake-up is due (first attempt of an occurrence, or a retry).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The attempt the pending wake-up will make (1, or more for a retry the scheduler holds).
    pub next_attempt: u32,
    /// When the current occurrence's first attempt was due: `max_duration` counts from here.
    #[serde(default)]
    pub occurrence_due_at: Option<DateTime<Utc>>,
    /// Attempts made in the current occurrence.
    pub attempts: u32,
    pub last_result: Option<Attempt>,
    /// Occurrences fired, succeeded and failed, over the timer's life.
    pub runs: u64,
    pub successes: u64,
    pub failures: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TimerRecord {
    pub fn key(&self) -> TimerKey {
        TimerKey::new(self.namespace.clone(), self.id.clone())
    }

    /// The delivery id of an occurrence: stable across its retries and redeliveries.
    pub fn delivery_id(&self, occurrence: u64) -> String {
        delivery_id(&self.key(), self.generation, occurrence)
    }

    /// The API view, with the KV revision it was read at.
    pub fn view(&self, revision: u64) -> TimerView {
        TimerView {
            namespace: self.namespace.to_string(),
            id: self.id.to_string(),
            schedule: self.spec.schedule.clone(),
            target: self.spec.target.clone(),
            retry: self.spec.retry,
            status: self.status,
            next_fire_at: self.next_fire_at,
            attempts: self.attempts,
            last_result: self.last_result.clone(),
            runs: self.runs,
            successes: self.successes,
            failures: self.failures,
            created_at: self.created_at,
            updated_at: self.updated_at,
            revision,
        }
    }
}

/// `<ns>/<id>/<generation>/<occurrence>`: neither namespaces nor ids may contain `/`.
pub fn delivery_id(key: &TimerKey, generation: u64, occurrence: u64) -> String {
    format!("{key}/{generation}/{occurrence}")
}

/// A timer as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimerView {
    pub namespace: String,
    pub id: String,
    pub schedule: Schedule,
    pub target: Target,
    pub retry: RetryPolicy,
    pub status: TimerStatus,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Attempts made in the current occurrence.
    pub attempts: u32,
    pub last_result: Option<Attempt>,
    pub runs: u64,
    pub successes: u64,
    pub failures: u64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// The KV revision of this state; send it back in `If-Match` for a conditional change.
    pub revision: u64,
}
