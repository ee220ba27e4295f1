//! Header names ontime puts on NATS messages.

/// JetStream de-duplication id.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// Where the scheduler sends its [`ontime_core::command::Reply`] to a command (optional).
pub const REPLY_TO: &str = "Ontime-Reply-To";
/// Scheduled-message headers (ADR-51).
pub const SCHEDULE: &str = "Nats-Schedule";
pub const SCHEDULE_TARGET: &str = "Nats-Schedule-Target";
/// Compare-and-set on a KV write.
pub const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
/// On a worker's execution-log entry: the entry is also the attempt's report to the
/// schedulers. `attempt`, or `rearm` when the scheduler must hold the next retry.
pub const REPORT: &str = "Ontime-Report";
pub const REPORT_ATTEMPT: &str = "attempt";
pub const REPORT_REARM: &str = "rearm";
/// Per-message time to live.
pub const TTL: &str = "Nats-TTL";
/// On a dead letter (see [`crate::dead`]): where the message was, why it was buried, and
/// how often it had been delivered.
pub const DEAD_SUBJECT: &str = "Ontime-Dead-Subject";
pub const DEAD_REASON: &str = "Ontime-Dead-Reason";
pub const DEAD_STREAM: &str = "Ontime-Dead-Stream";
pub const DEAD_CONSUMER: &str = "Ontime-Dead-Consumer";
pub const DEAD_SEQUENCE: &str = "Ontime-Dead-Sequence";
pub const DEAD_DELIVERIES: &str = "Ontime-Dead-Deliveries";

/// The headers of a scheduled message that nats-server stores on `target` at `at` (to the
/// millisecond), once.
pub(crate) fn scheduled_at(
    at: chrono::DateTime<chrono::Utc>,
    target: &str,
) -> async_nats::HeaderMap {
    let mut hdrs = async_nats::HeaderMap::new();
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    hdrs.insert(SCHEDULE, format!("@at {at}").as_str());
    hdrs.insert(SCHEDULE_TARGET, target);
    hdrs
}
