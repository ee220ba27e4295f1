//! Metric names of the worker, defined once. No label names a timer or a namespace.

/// Attempts made, by `outcome` (`succeeded`, `retrying`, `failed`, …) and `status_class`
/// (`2xx` … `5xx`, or `none` when no HTTP answer came). Retries are `outcome="retrying"`.
pub const ATTEMPTS: &str = "ontime_worker_attempts_total";
/// Call latency in seconds.
pub const CALL_LATENCY: &str = "ontime_worker_call_latency_seconds";
/// How late a first attempt started after its due instant, in seconds.
pub const LATENESS: &str = "ontime_worker_lateness_seconds";
/// Attempts being made now.
pub const IN_FLIGHT: &str = "ontime_worker_in_flight";
/// Calls that failed for good, filed in their namespace's dead-letter list.
pub const DEAD_LETTERS: &str = "ontime_worker_dead_letters_total";
/// Fires settled without a call because the timer's record says their occurrence has
/// ended (copies that came late).
pub const ENDED: &str = "ontime_worker_fires_of_ended_occurrences_total";

/// How long calls waited for their turn under flow limits, in seconds (only calls that a
/// limit covers).
pub const FLOW_WAIT: &str = "ontime_worker_flow_wait_seconds";
/// Calls waiting for their turn under flow limits now.
pub const FLOW_WAITING: &str = "ontime_worker_flow_waiting";

/// The class of an HTTP status: `2xx` … `5xx`; `none` without one.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status.map(|s| s / 100) {
        Some(1) => "1xx",
        Some(2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        _ => "none",
    }
}

/// Says what each metric is (Prometheus's `# HELP`).
pub fn describe() {
    metrics::describe_counter!(ATTEMPTS, "Attempts made, by outcome and HTTP status class");
    metrics::describe_counter!(
        ENDED,
        "Fires settled without a call: their occurrence had ended (copies that came late)"
    );
    metrics::describe_histogram!(
        CALL_LATENCY,
        metrics::Unit::Seconds,
        "How long each call (or command run) took"
    );
    metrics::describe_histogram!(
        LATENESS,
        metrics::Unit::Seconds,
        "How late a first attempt started after its due instant"
    );
    metrics::describe_gauge!(IN_FLIGHT, "Attempts being made now");
    metrics::describe_histogram!(
        FLOW_WAIT,
        metrics::Unit::Seconds,
        "How long calls covered by a flow limit waited for their turn"
    );
    metrics::describe_gauge!(
        FLOW_WAITING,
        "Calls waiting for their turn under flow limits"
    );
    metrics::describe_counter!(
        DEAD_LETTERS,
        "Calls that failed for good, filed in their namespace's dead-letter list"
    );
}
