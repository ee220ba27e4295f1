//! Metric names of the scheduler, defined once.

/// Commands applied, by outcome (`changed`, `unchanged`, `rejected`).
pub const COMMANDS: &str = "ontime_scheduler_commands_total";
/// Fire messages emitted.
pub const FIRES: &str = "ontime_scheduler_fires_total";
/// Fires stored ahead as scheduled messages (`SchedulerConfig::scheduled_fires`).
pub const FIRES_SCHEDULED: &str = "ontime_scheduler_fires_scheduled_total";
/// Past seconds whose wake-ups were found left unfired, and their ticks stored again.
pub const SECONDS_TICKED_AGAIN: &str = "ontime_scheduler_seconds_ticked_again_total";
/// How late a fire message was emitted after its due time, in seconds.
pub const FIRE_LATENESS: &str = "ontime_scheduler_fire_lateness_seconds";
/// Wake-ups held in the precision queue.
pub const QUEUE_DEPTH: &str = "ontime_scheduler_queue_depth";
/// Wake-ups stored in NATS: about one per pending timer.
pub const WAKE_UPS_PENDING: &str = "ontime_scheduler_wake_ups_pending";
/// Calls stored that no worker has settled yet.
pub const CALLS_PENDING: &str = "ontime_scheduler_calls_pending";
/// How often the two are read.
pub const BACKLOG_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Sets the backlog gauges every [`BACKLOG_EVERY`] until `shutdown`.
pub async fn watch_backlog(
    topology: ontime_nats::Topology,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        match topology.backlog().await {
            Ok(backlog) => {
                metrics::gauge!(WAKE_UPS_PENDING).set(backlog.wake_ups as f64);
                metrics::gauge!(CALLS_PENDING).set(backlog.calls as f64);
            }
            Err(e) => tracing::debug!(error = %e, "reading the backlog failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(BACKLOG_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

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
    metrics::describe_counter!(
        FIRES_SCHEDULED,
        "Fires stored ahead as scheduled messages, for nats-server to store at their instant"
    );
    metrics::describe_histogram!(
        FIRE_LATENESS,
        metrics::Unit::Seconds,
        "How late a fire was emitted after its due instant"
    );
    metrics::describe_gauge!(QUEUE_DEPTH, "Wake-ups held in the precision queue");
    metrics::describe_gauge!(
        WAKE_UPS_PENDING,
        "Wake-ups stored in NATS: about one per pending timer"
    );
    metrics::describe_gauge!(CALLS_PENDING, "Calls stored that no worker has settled yet");
    metrics::describe_counter!(
        SECONDS_TICKED_AGAIN,
        "Past seconds whose wake-ups were left unfired, ticked again"
    );
    metrics::describe_histogram!(
        COMMAND_APPLY,
        metrics::Unit::Seconds,
        "How long after JetStream accepted a command it was applied"
    );
}
