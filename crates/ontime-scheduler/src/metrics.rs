//! Metric names of the scheduler, defined once.

/// Commands applied, by outcome (`changed`, `unchanged`, `rejected`).
pub const COMMANDS: &str = "ontime_scheduler_commands_total";
/// Fire messages emitted.
pub const FIRES: &str = "ontime_scheduler_fires_total";
/// How late a fire message was emitted after its due time, in seconds.
pub const FIRE_LATENESS: &str = "ontime_scheduler_fire_lateness_seconds";
/// Wake-ups held in the precision queue.
pub const QUEUE_DEPTH: &str = "ontime_scheduler_queue_depth";
/// How long after JetStream accepted a command the scheduler had applied it, in seconds.
pub const COMMAND_APPLY: &str = "ontime_scheduler_command_apply_seconds";

/// Records a command applied now, accepted at `accepted_at`.
pub fn applied_after(accepted_at: chrono::DateTime<chrono::Utc>) {
    let after = (chrono::Utc::now() - accepted_at)
        .to_std()
        .unwrap_or_default();
    metrics::histogram!(COMMAND_APPLY).record(after.as_secs_f64());
}

/// Says what each metric is (Prometheus's `# HELP`).
pub fn describe() {
    metrics::describe_counter!(COMMANDS, "Commands handled, by outcome");
    metrics::describe_counter!(FIRES, "Fire messages emitted");
    metrics::describe_histogram!(
        FIRE_LATENESS,
        metrics::Unit::Seconds,
        "How late a fire was emitted after its due instant"
    );
    metrics::describe_gauge!(QUEUE_DEPTH, "Wake-ups held in the precision queue");
    metrics::describe_histogram!(
        COMMAND_APPLY,
        metrics::Unit::Seconds,
        "How long after JetStream accepted a command it was applied"
    );
}
