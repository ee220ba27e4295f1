//! The scheduler: the only writer of timer state. Any number of instances share the command,
//! wake-up and report (execution log) consumers; none is a leader. Correctness comes from compare-and-set on the KV
//! revision and from every occurrence's stable identity (timer, generation, occurrence,
//! attempt), which makes every step idempotent (see `ontime_core::state`).
//!
//! Far-future wake-ups live in NATS as scheduled messages; the next `lead` of them live in
//! the [`queue::PrecisionQueue`], which fires each one `fire_ahead` before its instant (the
//! worker holds it until then).

mod arm;
mod batch;
mod commands;
mod emit;
mod firing;
pub mod metrics;
mod pull;
pub mod queue;
mod recent;
mod reports;
mod ticks;
mod time;
mod wakes;

use std::sync::Arc;
use std::time::Duration;

use ontime_nats::Topology;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::firing::Due;
use crate::queue::PrecisionQueue;

/// Scheduler settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How long before its due time a wake-up leaves NATS for the precision queue. Must
    /// cover the server's scheduled-message lateness (hundreds of ms) with room to spare.
    pub lead: Duration,
    /// How long before its due instant a fire message is emitted. The worker holds it until
    /// the due instant (a call never starts early), so publishing, storing and delivering
    /// the fire happen during this margin instead of after the due time.
    pub fire_ahead: Duration,
    /// Commands and wake-ups processed at once by this instance.
    pub concurrency: usize,
    /// Records remembered from the last firings, so that their reports need no read.
    pub recent_records: usize,
    /// The operator's limits (the interval floor): commands are validated against them and
    /// a callback's `nextExecuteAt` is held to the floor. The gateways must use the same.
    pub limits: ontime_core::Limits,
    /// The longest one delivery of a batch is worked on. A batch tells its consumer it is
    /// still at work, so nothing else would end a wait that does not end (a connection whose
    /// acks are lost): past this, it is handed back, to this instance or another.
    pub batch_time_limit: Duration,
    /// Store the fire of a one-time timer due later than `lead` as a scheduled message at
    /// arming, instead of a wake-up: nats-server stores the fire itself shortly before the
    /// instant, and no scheduler takes part then. Each such fire costs nats-server two disk
    /// barriers under `sync_interval: always`, one schedule at a time per stream: off by
    /// default.
    pub scheduled_fires: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            lead: Duration::from_secs(2),
            fire_ahead: Duration::from_millis(150),
            concurrency: 1024,
            recent_records: 16_384,
            limits: ontime_core::Limits::default(),
            batch_time_limit: Duration::from_secs(60),
            scheduled_fires: false,
        }
    }
}

/// Batches one instance applies at once.
const BATCHES_AT_ONCE: usize = 4;

/// An upsert of timer `ns.<id>`, due in an hour, calling a port nothing listens on: the timer
/// the tests of the parts work with.
#[cfg(test)]
pub(crate) fn test_upsert(id: &str) -> ontime_core::command::Command {
    use ontime_core::command::{Command, CommandBody};
    let spec = serde_json::from_value(serde_json::json!({
        "schedule": {"after": "1h"},
        "target": {"http": {"url": "http://127.0.0.1:9/"}}
    }))
    .unwrap();
    let key = ontime_core::TimerKey::from_subject_suffix(&format!("ns.{id}")).unwrap();
    Command::new(key, CommandBody::upsert(spec))
}

/// The record [`test_upsert`] of `id` creates.
#[cfg(test)]
pub(crate) fn test_record(id: &str) -> ontime_core::timer::TimerRecord {
    use ontime_core::state::{Applied, apply};
    let now = chrono::Utc::now();
    match apply(None, &test_upsert(id), 1, now, now) {
        Ok(Applied::Changed(outcome)) => outcome.record,
        _ => panic!("an upsert creates a record"),
    }
}

/// A scheduler's shared state on `topology`, with default settings, for tests of its parts.
#[cfg(test)]
pub(crate) fn test_ctx(topology: &Topology) -> Arc<Ctx> {
    Arc::new(Ctx {
        topology: topology.clone(),
        config: SchedulerConfig::default(),
        queue: PrecisionQueue::default(),
        recent: recent::Recent::new(16),
        reports: reports::Groups::default(),
        permits: Arc::new(Semaphore::new(8)),
    })
}

/// Errors that stop a scheduler.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Nats(#[from] ontime_nats::NatsError),
}

/// What every task of one scheduler instance shares.
pub(crate) struct Ctx {
    pub topology: Topology,
    pub config: SchedulerConfig,
    pub queue: PrecisionQueue<Due>,
    pub recent: recent::Recent,
    /// Reports queued behind the group of their timer under way.
    pub reports: reports::Groups,
    /// Bounds the commands and wake-ups in flight, hence memory.
    pub permits: Arc<Semaphore>,
}

impl Ctx {
    /// When the firing loop takes a wake-up due at `due_at`: `fire_ahead` before it.
    pub fn fire_instant(&self, due_at: chrono::DateTime<chrono::Utc>) -> tokio::time::Instant {
        let at = time::instant_of(due_at);
        at.checked_sub(self.config.fire_ahead).unwrap_or(at)
    }
}

/// Runs one scheduler instance until `shutdown` is cancelled. Wake-ups it holds are handed
/// back to the stream (nak) on the way out, so another instance fires them without waiting
/// for the ack timeout.
pub async fn run(
    topology: Topology,
    config: SchedulerConfig,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    // On the heap: the scheduler's future is large (unoptimised builds above all), and
    // whoever creates it would otherwise hold it on their own stack.
    Box::pin(schedule(topology, config, shutdown)).await
}

async fn schedule(
    topology: Topology,
    config: SchedulerConfig,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    crate::metrics::describe();
    ontime_nats::commit::describe();
    let n = topology.names().clone();
    let cmd_consumer = topology.consumer(&n.cmd_stream(), n.cmd_consumer()).await?;
    let batch_consumer = topology
        .consumer(&n.cmd_stream(), n.batch_consumer())
        .await?;
    let wake_consumer = topology
        .consumer(&n.sched_stream(), n.wake_consumer())
        .await?;
    let tick_consumer = topology
        .consumer(&n.sched_stream(), n.tick_consumer())
        .await?;
    let report_consumer = topology
        .consumer(&n.log_stream(), n.report_consumer())
        .await?;
    let ctx = Arc::new(Ctx {
        permits: Arc::new(Semaphore::new(config.concurrency)),
        recent: recent::Recent::new(config.recent_records),
        reports: reports::Groups::default(),
        topology,
        config,
        queue: PrecisionQueue::default(),
    });
    let firing = tokio::spawn(firing::run(ctx.clone(), shutdown.clone()));
    let left = tokio::spawn(ticks::watch_left(ctx.clone(), shutdown.clone()));
    let backlog = tokio::spawn(crate::metrics::watch_backlog(
        ctx.topology.clone(),
        shutdown.clone(),
    ));
    let permits = ctx.permits.clone();
    // Bounds the batches pulled, hence applied, at once: each applies up to
    // `batch::AT_ONCE` commands at once, and is up to `max_payload` in memory.
    let batch_permits = Arc::new(Semaphore::new(BATCHES_AT_ONCE));
    let commands = tokio::spawn(pull::consume(
        ctx.clone(),
        cmd_consumer,
        permits.clone(),
        shutdown.clone(),
        pull::COMMAND_DELIVERIES,
        commands::handle,
    ));
    let batches = tokio::spawn(pull::consume(
        ctx.clone(),
        batch_consumer,
        batch_permits.clone(),
        shutdown.clone(),
        pull::COMMAND_DELIVERIES,
        commands::handle,
    ));
    let wakes = tokio::spawn(pull::consume(
        ctx.clone(),
        wake_consumer,
        permits.clone(),
        shutdown.clone(),
        pull::WAKE_DELIVERIES,
        wakes::handle,
    ));
    let ticks = tokio::spawn(pull::consume(
        ctx.clone(),
        tick_consumer,
        permits.clone(),
        shutdown.clone(),
        pull::WAKE_DELIVERIES,
        ticks::handle,
    ));
    let reports = tokio::spawn(pull::consume(
        ctx.clone(),
        report_consumer,
        permits,
        shutdown.clone(),
        pull::COMMAND_DELIVERIES,
        reports::handle,
    ));
    let (c, b, w, t, r) = tokio::join!(commands, batches, wakes, ticks, reports);
    // The consumers stopped: wait for the work in flight, then give back what is held.
    let _ = ctx
        .permits
        .acquire_many(ctx.config.concurrency as u32)
        .await;
    let _ = batch_permits.acquire_many(BATCHES_AT_ONCE as u32).await;
    firing.abort();
    left.abort();
    backlog.abort();
    for due in ctx.queue.drain() {
        due.release().await;
    }
    for result in [c, b, w, t, r] {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => tracing::error!(error = %e, "scheduler task panicked"),
        }
    }
    Ok(())
}
