//! A timer: its definition (`TimerSpec`), its stored state (`TimerRecord`, one KV entry) and
//! the document the API returns (`TimerView`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ValidationError;
use crate::id::{Namespace, SubscriberId, TimerId, TimerKey};
use crate::limits::Limits;
use crate::metadata::{self, Metadata};
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
    /// The client's labels (see [`crate::metadata`] for the bounds). Absent when empty, so
    /// records and commands written without it read the same.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl TimerSpec {
    /// [`Self::validate_with`] the default [`Limits`].
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        self.validate_with(&Limits::default())
    }

    /// Checks and normalises every field under the operator's `limits`; errors carry the
    /// path of the field at fault.
    pub fn validate_with(&mut self, limits: &Limits) -> Result<(), ValidationError> {
        self.schedule
            .validate_with(limits)
            .map_err(|e| e.within("schedule"))?;
        self.target.validate().map_err(|e| e.within("target"))?;
        self.retry.validate().map_err(|e| e.within("retry"))?;
        metadata::validate(&self.metadata).map_err(|e| e.within("metadata"))?;
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
    /// Paused by a client: no scheduled occurrence fires until it is resumed.
    Paused,
    /// The call succeeded (one-time timers).
    Succeeded,
    /// The call failed for good: a final answer or the retry policy gave up (one-time timers).
    Failed,
    /// A recurring timer whose schedule is exhausted (`max_runs`, `end_at`, the end of an
    /// ISO repetition) or whose callback asked it to stop.
    Completed,
    /// Deleted by a client.
    Cancelled,
}

impl TimerStatus {
    /// A timer in a final state fires no more unless it is redefined.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Completed | Self::Cancelled
        )
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
    /// The occurrence was not called: the previous one was still in flight (`overlap:
    /// skip`), or it was missed while ontime was down or paused (`misfire: skip`).
    Skipped,
    /// The occurrence was not called: it would have been later than `max_lateness`.
    Expired,
    /// The callback answered `{"code": 400}`: the timer stops (CronHubot's contract).
    Stopped,
    /// A topic's occurrence was handed to its subscribers (`subscribers`), each delivered on
    /// its own; the occurrence ends when every delivery has.
    FannedOut,
}

impl AttemptOutcome {
    /// Whether this outcome ends its occurrence (or, with a subscriber, that delivery).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Retrying | Self::Superseded | Self::FannedOut)
    }

    /// The outcome as the API writes it (`succeeded`, `fanned_out`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Rescheduled => "rescheduled",
            Self::Superseded => "superseded",
            Self::Skipped => "skipped",
            Self::Expired => "expired",
            Self::Stopped => "stopped",
            Self::FannedOut => "fanned_out",
        }
    }
}

/// A call that failed for good, kept in its namespace's dead-letter list: what was called
/// (the target as the API shows it: credentials redacted, secrets masked) and the last
/// attempt (its status, error and the start of the answer). Replaying it makes one more
/// attempt of the same delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetter {
    /// The letter's id in the list: the delivery id, encoded as one path segment.
    pub id: String,
    pub namespace: String,
    /// The timer's id.
    pub timer: String,
    pub delivery_id: String,
    pub request: crate::target::Target,
    pub last_attempt: Attempt,
    #[schema(value_type = String, format = DateTime)]
    pub failed_at: DateTime<Utc>,
    /// How many times it was replayed.
    #[serde(default)]
    pub replays: u32,
}

/// How a command run ended, and the start of what it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    /// The exit status, when the process exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did (the timeout's, or a stop's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[schema(value_type = String, format = DateTime)]
    pub ended_at: DateTime<Utc>,
    /// What it wrote on stdout, up to the worker's bound (invalid UTF-8 replaced).
    pub stdout: String,
    pub stderr: String,
    /// Bytes written past the bound: counted, not kept.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub stdout_omitted: u64,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub stderr_omitted: u64,
}

impl Run {
    /// The shell's convention: the exit status, or 128 + the signal.
    pub fn code(&self) -> i32 {
        self.exit_code
            .or(self.signal.map(|s| 128 + s))
            .unwrap_or(-1)
    }
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
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
    /// When the occurrence's first attempt was due (equal to `due_at` for attempt 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurrence_due_at: Option<DateTime<Utc>>,
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
    /// The subscriber this attempt delivered to (a topic timer's delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub subscriber: Option<SubscriberId>,
    /// The subscribers the occurrence was fanned out to (outcome `fanned_out`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub subscribers: Vec<SubscriberId>,
    /// How many subscribers the occurrence was fanned out to (a delivery's report).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fan_out: u32,
    /// A command target's run: how it ended and what it wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Run>,
    /// Something to know about this attempt, e.g. that the run before it was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The start of the answer's body (1 KiB at most, invalid UTF-8 replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A retry the scheduler holds for a worker (a backoff too long to keep the message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRetry {
    pub occurrence: u64,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// `max_duration` counts from here.
    pub occurrence_due_at: DateTime<Utc>,
    /// The subscriber whose delivery is retried (topic timers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<SubscriberId>,
}

/// A topic occurrence in flight: how many subscribers it was fanned out to, those whose
/// delivery ended, and of those the ones that failed. Reports are applied in any order, so
/// whichever comes first (the fan-out's or a delivery's) opens it; each carries the size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FanOut {
    pub occurrence: u64,
    pub subscribers: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub done: Vec<SubscriberId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub failed: Vec<SubscriberId>,
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
    /// The command-stream sequence of the last command applied (definitions and controls such
    /// as pause): a control command at or below it is stale or a redelivery.
    #[serde(default)]
    pub last_command: u64,
    /// The number the next occurrence will carry, 1 for the first. Scheduled, triggered and
    /// skipped occurrences share the sequence, so each has its own identity.
    pub occurrence: u64,
    /// When the command that set this generation was accepted: the base of `after`, and of
    /// `every` without `start_at`.
    pub anchor: DateTime<Utc>,
    /// When the next scheduled occurrence is due (`None`: the schedule has no more). Kept
    /// while the timer is paused: resuming applies the misfire policy to it.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Retries the scheduler holds, earliest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<HeldRetry>,
    /// Occurrences fired and not finished yet (being called or retried), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_flight: Vec<u64>,
    /// Of those, the topic occurrences that were fanned out to their subscribers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fan_outs: Vec<FanOut>,
    /// Attempts made in the occurrence last reported.
    pub attempts: u32,
    pub last_result: Option<Attempt>,
    /// Occurrences fired (scheduled and triggered), succeeded and failed, over the timer's
    /// life; `triggered` of the runs were made by `:trigger`, outside the schedule.
    pub runs: u64,
    pub successes: u64,
    pub failures: u64,
    #[serde(default)]
    pub triggered: u64,
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub expired: u64,
    /// Subscriber deliveries ended, and of those the failed ones (topic timers).
    #[serde(default)]
    pub deliveries: u64,
    #[serde(default)]
    pub delivery_failures: u64,
    /// The last `:trigger` applied, so that the command, redelivered after its record was
    /// written, sends its call again if it may not have gone out (NATS drops a second one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trigger: Option<LastTrigger>,
    /// The trace of the request that defined it, which its calls belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::TraceParent>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A trigger as applied: its command (the command stream's sequence), the occurrence it made
/// and the instant it is due at (the command's acceptance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastTrigger {
    pub command: u64,
    pub occurrence: u64,
    pub due_at: DateTime<Utc>,
    /// The trace of the request that triggered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::TraceParent>,
}

pub use crate::mark::{Mark, Void};

impl TimerRecord {
    pub fn key(&self) -> TimerKey {
        TimerKey::new(self.namespace.clone(), self.id.clone())
    }

    /// The mark of the record as it stands.
    pub fn mark(&self) -> Mark {
        Mark::of(self.generation, self.status == TimerStatus::Cancelled)
    }

    /// The delivery id of an occurrence: stable across its retries and redeliveries.
    pub fn delivery_id(&self, occurrence: u64) -> String {
        delivery_id(&self.key(), self.generation, occurrence)
    }

    /// Scheduled runs made so far: what `max_runs` counts.
    pub fn scheduled_runs(&self) -> u64 {
        self.runs - self.triggered
    }

    /// The next few scheduled occurrences (the pending one first), within `max_runs`.
    pub fn upcoming(&self, count: usize) -> Vec<DateTime<Utc>> {
        let Some(next) = self.next_fire_at else {
            return Vec::new();
        };
        if self.status.is_final() {
            return Vec::new();
        }
        let left = self.spec.schedule.max_runs.map_or(usize::MAX, |max| {
            max.saturating_sub(self.scheduled_runs()) as usize
        });
        self.spec
            .schedule
            .starting_at(self.anchor, next, count.min(left))
    }

    /// The API view, with the KV revision it was read at.
    pub fn view(&self, revision: u64) -> TimerView {
        TimerView {
            namespace: self.namespace.to_string(),
            id: self.id.to_string(),
            schedule: self.spec.schedule.clone(),
            // Credentials in the URL are the client's secret: never shown back.
            target: self.spec.target.redacted(),
            retry: self.spec.retry,
            metadata: self.spec.metadata.clone(),
            status: self.status,
            next_fire_at: match self.status {
                TimerStatus::Paused => None,
                _ => self.next_fire_at,
            },
            upcoming: match self.status {
                TimerStatus::Paused => Vec::new(),
                _ => self.upcoming(UPCOMING_SHOWN),
            },
            in_flight: self.in_flight.clone(),
            attempts: self.attempts,
            last_result: self.last_result.clone(),
            runs: self.runs,
            successes: self.successes,
            failures: self.failures,
            triggered: self.triggered,
            skipped: self.skipped,
            expired: self.expired,
            fan_outs: self.fan_outs.clone(),
            deliveries: self.deliveries,
            delivery_failures: self.delivery_failures,
            created_at: self.created_at,
            updated_at: self.updated_at,
            revision,
        }
    }
}

/// How many upcoming occurrences a timer's view lists.
pub const UPCOMING_SHOWN: usize = 5;

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
    /// The client's labels; `{}` when it set none.
    #[serde(default)]
    pub metadata: Metadata,
    pub status: TimerStatus,
    /// When the next scheduled occurrence is due (none while paused or once finished).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The next few scheduled occurrences, `next_fire_at` first.
    #[schema(value_type = Vec<String>)]
    pub upcoming: Vec<DateTime<Utc>>,
    /// Occurrences being called or retried.
    pub in_flight: Vec<u64>,
    /// Attempts made in the occurrence last reported.
    pub attempts: u32,
    pub last_result: Option<Attempt>,
    /// Occurrences fired, scheduled and triggered.
    pub runs: u64,
    /// Occurrences that succeeded (a 2xx, or a callback that rescheduled or stopped the timer).
    pub successes: u64,
    /// Occurrences that failed for good.
    pub failures: u64,
    /// Runs made by `:trigger`, outside the schedule.
    pub triggered: u64,
    /// Occurrences not called because of the overlap or misfire policy.
    pub skipped: u64,
    /// Occurrences not called because they would have been later than `max_lateness`.
    pub expired: u64,
    /// A topic timer's occurrences in flight: the subscribers each still waits for, and
    /// those whose delivery failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fan_outs: Vec<FanOut>,
    /// Subscriber deliveries ended (a topic timer's), and of those the failed ones.
    #[serde(default)]
    pub deliveries: u64,
    #[serde(default)]
    pub delivery_failures: u64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// The KV revision of this state; send it back in `If-Match` for a conditional change.
    pub revision: u64,
}

#[cfg(test)]
mod tests {
    use super::AttemptOutcome;

    #[test]
    fn outcome_names_are_their_wire_names() {
        for outcome in [
            AttemptOutcome::Succeeded,
            AttemptOutcome::Retrying,
            AttemptOutcome::Failed,
            AttemptOutcome::Rescheduled,
            AttemptOutcome::Superseded,
            AttemptOutcome::Skipped,
            AttemptOutcome::Expired,
            AttemptOutcome::Stopped,
            AttemptOutcome::FannedOut,
        ] {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.name());
        }
    }
}
