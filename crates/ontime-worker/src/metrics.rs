//! Metric names of the worker, defined once.

/// Attempts made, by outcome.
pub const ATTEMPTS: &str = "ontime_worker_attempts_total";
/// Call latency in seconds.
pub const CALL_LATENCY: &str = "ontime_worker_call_latency_seconds";
