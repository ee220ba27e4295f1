//! Delivery workers: stateless members of the `workers` consumer group. Each fire message
//! becomes one HTTP call; every attempt is written to the execution log, which is also its
//! report to the schedulers; the message is acked, nak'd with a delay (short retry) or
//! handed to the scheduler (long retry).

mod call;
mod command;
mod deliver;
mod fanout;
mod flow;
pub mod guard;
pub mod metrics;
pub mod oauth;
mod report;
mod trusted;

use std::sync::Arc;
use std::time::Duration;

use ontime_nats::Topology;
use ontime_nats::pull::{Containment, Handled};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use call::{CallResult, callback_verdict};

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Calls made at once by this process.
    pub concurrency: usize,
    /// Retries waiting up to this long stay with the worker (nak with delay). Longer waits
    /// are handed to the scheduler as durable wake-ups, so a long backoff never holds a slot
    /// of the consumer's `max_ack_pending`.
    pub nak_max_delay: Duration,
    /// How often a slow call tells JetStream it is still being worked on.
    pub progress_interval: Duration,
    /// How long shutdown waits for calls in flight.
    pub drain_timeout: Duration,
    /// The operator's limits, as the schedulers have them: a callback's answer that moves the
    /// next occurrence is held to the same floor when the worker voids what it replaced.
    pub limits: ontime_core::Limits,
    /// The addresses calls may not reach (checked after DNS resolution).
    pub guard: ontime_core::trust::guard::TargetGuard,
    /// Opens secret headers, prerequisites' credentials and signing secrets; without it,
    /// calls that need one fail and calls are not signed.
    pub secret_key: Option<ontime_core::trust::seal::SecretKey>,
    /// Set, this worker is a command worker: it runs the command targets of these
    /// namespaces, and nothing else. Unset (the default), it never runs a command.
    pub commands: Option<Commands>,
}

/// What a command worker runs, and how.
#[derive(Debug, Clone)]
pub struct Commands {
    /// The namespaces whose commands it runs; another's command fails for good.
    pub namespaces: Vec<ontime_core::Namespace>,
    /// The environment every run starts from (the target's variables are added): nothing
    /// of the worker's own is inherited.
    pub env: std::collections::BTreeMap<String, String>,
    /// The working directory of a target that names none.
    pub dir: std::path::PathBuf,
    /// Bytes kept of each of stdout and stderr; the rest is counted.
    pub max_output: usize,
}

impl Commands {
    /// Running the commands of `namespaces`, with a `PATH` and nothing else in the
    /// environment, in the system's temporary directory, keeping 64 KiB of each output.
    pub fn of(namespaces: Vec<ontime_core::Namespace>) -> Self {
        Self {
            namespaces,
            env: [("PATH".to_owned(), DEFAULT_PATH.to_owned())].into(),
            dir: std::env::temp_dir(),
            max_output: 64 * 1024,
        }
    }
}

/// The `PATH` of a command run when the operator sets none.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 1024,
            nak_max_delay: Duration::from_secs(5),
            progress_interval: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            limits: ontime_core::Limits::default(),
            guard: ontime_core::trust::guard::TargetGuard::default(),
            secret_key: None,
            commands: None,
        }
    }
}

/// Errors that stop a worker.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Nats(#[from] ontime_nats::NatsError),
    #[error("HTTP client: {0}")]
    Http(String),
}

pub(crate) struct Ctx {
    pub topology: Topology,
    pub config: WorkerConfig,
    pub http: reqwest::Client,
    pub trust: trusted::Trust,
    pub flow: flow::Limiter,
}

/// Deliveries after which a fire is buried: well above the most attempts a retry policy
/// allows (each retry the worker holds is a delivery), so only a fire that fails for another
/// reason, for long, gets there.
const FIRE_DELIVERIES: i64 = 1000;
/// How long a fire that is still not settled is tried again before it may be buried; retry
/// policies end sooner (`max_duration`), so only a fire that cannot be handled gets there.
const FIRE_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// How often a worker purges the calls settled (see [`ontime_nats::fires::Fires::clear_settled`]):
/// settled calls stay on disk up to this long.
const CLEAR_EVERY: Duration = Duration::from_secs(1);

/// Purges the settled calls every [`CLEAR_EVERY`] until `shutdown`.
async fn clear_settled(ctx: &Ctx, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CLEAR_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = ctx.topology.fires.clear_settled().await {
            tracing::debug!(error = %e, "purging settled calls failed");
        }
    }
}

/// Runs one worker until `shutdown` is cancelled, then waits for the calls in flight.
pub async fn run(
    topology: Topology,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    // On the heap: the worker's future is large (unoptimised builds above all), and whoever
    // creates it would otherwise hold it on their own stack.
    Box::pin(work(topology, config, shutdown)).await
}

async fn work(
    topology: Topology,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    crate::metrics::describe();
    ontime_nats::commit::describe();
    let n = topology.names().clone();
    // A command worker takes command fires only; any other worker never sees one.
    let consumer = match &config.commands {
        Some(commands) => {
            let enabled: Vec<&str> = commands.namespaces.iter().map(|ns| ns.as_str()).collect();
            tracing::info!(namespaces = ?enabled, "a command worker");
            topology.consumer(&n.run_stream(), n.run_consumer()).await?
        }
        None => {
            topology
                .consumer(&n.fire_stream(), n.fire_consumer())
                .await?
        }
    };
    let http_worker = config.commands.is_none();
    let guard = Arc::new(config.guard.clone());
    // Every connection's address goes through the guard, after DNS resolution; a 3xx is an
    // answer like any other (final), never followed.
    let http = guard::client_builder(guard.clone())
        .pool_max_idle_per_host(config.concurrency)
        .user_agent(concat!("ontime/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| WorkerError::Http(e.to_string()))?;
    let view = topology.trust.view().await?;
    let flow = flow::Limiter::new(topology.flow.clone(), view.clone());
    let trust = trusted::Trust {
        view,
        key: config.secret_key.clone(),
        guard,
        tokens: oauth::TokenCache::new(http.clone()),
    };
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let ctx = Arc::new(Ctx {
        topology,
        config,
        http,
        trust,
        flow,
    });
    // A fire settles itself (retries by policy included); what the loop contains is a panic,
    // and a fire handed back more often than any retry policy asks, which is buried.
    let containment = Containment {
        dead: ctx.topology.dead.clone(),
        max_deliveries: FIRE_DELIVERIES,
        max_age: FIRE_MAX_AGE,
    };
    let pull = ontime_nats::pull::consume(
        consumer,
        permits.clone(),
        shutdown.clone(),
        containment,
        |message| {
            let ctx = ctx.clone();
            async move {
                deliver::handle(&ctx, message).await;
                Handled::Done
            }
        },
    );
    // The calls stream is cleared by the workers that consume it.
    let clearing = async {
        if http_worker {
            clear_settled(&ctx, shutdown).await;
        }
    };
    let (result, ()) = tokio::join!(pull, clearing);
    let all = ctx.config.concurrency as u32;
    let _ = tokio::time::timeout(ctx.config.drain_timeout, permits.acquire_many(all)).await;
    result.map_err(WorkerError::from)
}
