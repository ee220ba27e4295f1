//! Metric names of the scheduler, defined once.

/// Commands applied, by outcome (`changed`, `unchanged`, `rejected`).
pub const COMMANDS: &str = "ontime_scheduler_commands_total";
/// Fire messages emitted.
pub const FIRES: &str = "ontime_scheduler_fires_total";
/// How late a fire message was emitted after its due time, in seconds.
pub const FIRE_LATENESS: &str = "ontime_scheduler_fire_lateness_seconds";
/// Wake-ups held in the precision queue.
pub const QUEUE_DEPTH: &str = "ontime_scheduler_queue_depth";
