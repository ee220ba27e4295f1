//! The `ontime` binary: every part in one process (`ontime dev`), or each part alone for
//! scaling out (`ontime gateway|scheduler|worker`).

mod cli;
mod config;
mod dev;
mod nats_server;
mod traces;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{CommandArgs, CommonArgs, GatewayArgs, PartDefaults};

/// The scheduler and the workers allocate and free many small buffers per message (JSON,
/// headers, futures); glibc's allocator spent about a third of their CPU time on it.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ontime",
    version,
    about = "A distributed, durable scheduler of HTTP calls on NATS JetStream"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

// Parsed once per process: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    #[command(flatten)]
    Part(Part),
    /// Prints a new random secret key for `ONTIME_SECRET_KEY`.
    SecretKey,
    /// Timers through the REST API (`--url`, `--token`, `--json`).
    Timers {
        #[command(flatten)]
        client: cli::Client,
        #[command(subcommand)]
        command: cli::Timers,
    },
    /// Topics and subscribers through the REST API.
    Topics {
        #[command(flatten)]
        client: cli::Client,
        #[command(subcommand)]
        command: cli::Topics,
    },
    /// Calls that failed for good, through the REST API: list, inspect, replay, discard.
    DeadLetters {
        #[command(flatten)]
        client: cli::Client,
        #[command(subcommand)]
        command: cli::DeadLetters,
    },
    /// Check a schedule through the REST API.
    Schedules {
        #[command(flatten)]
        client: cli::Client,
        #[command(subcommand)]
        command: cli::Schedules,
    },
}

/// A part of ontime, run until stopped.
#[derive(Subcommand)]
enum Part {
    /// Everything in one process, on an embedded nats-server started as a child process.
    Dev(dev::DevArgs),
    /// The REST gateway alone.
    Gateway {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// A scheduler alone (run two or more: none is a leader).
    Scheduler {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// A delivery worker alone (run as many as the call rate needs).
    Worker {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        commands: CommandArgs,
    },
}

impl Part {
    /// The service name of the part's spans.
    fn service(&self) -> &'static str {
        match self {
            Self::Dev(_) => "ontime",
            Self::Gateway { .. } => "ontime-gateway",
            Self::Scheduler { .. } => "ontime-scheduler",
            Self::Worker { .. } => "ontime-worker",
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ONTIME_LOG")
                .unwrap_or_else(|_| "info,async_nats=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // The API's clients exit with the answer's code; the parts run until stopped.
    match cli.command {
        Cmd::Part(part) => run(part).await.map(|()| std::process::ExitCode::SUCCESS),
        Cmd::SecretKey => {
            let key = ontime_core::trust::seal::SecretKey::from_bytes(rand::random());
            println!("{}", key.to_base64());
            Ok(std::process::ExitCode::SUCCESS)
        }
        Cmd::Timers { client, command } => cli::timers(client, command).await,
        Cmd::Topics { client, command } => cli::topics(client, command).await,
        Cmd::DeadLetters { client, command } => cli::dead_letters(client, command).await,
        Cmd::Schedules { client, command } => cli::schedules(client, command).await,
    }
}

async fn run(part: Part) -> anyhow::Result<()> {
    let traces = traces::Traces::install(part.service())?;
    let result = run_part(part).await;
    if let Some(traces) = traces {
        traces.flush().await;
    }
    result
}

async fn run_part(part: Part) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    // Every part records its metrics into this process's Prometheus recorder.
    let metrics = ontime_gateway::metrics::install().map_err(anyhow::Error::msg)?;
    match part {
        Part::Dev(args) => dev::run(args, metrics, shutdown).await,
        Part::Gateway { common, gateway } => {
            let config = ontime_gateway::GatewayConfig {
                metrics: Some(metrics),
                ..gateway.config(&common, &PartDefaults::alone())?
            };
            let topology = common.topology(&common.nats_url, "ontime-gateway").await?;
            let listener = tokio::net::TcpListener::bind(&gateway.http)
                .await
                .with_context(|| format!("binding {}", gateway.http))?;
            tracing::info!(addr = %listener.local_addr()?, "gateway listening");
            config::show_first_admin_token(&topology, &config).await?;
            ontime_gateway::serve_with(
                listener,
                topology,
                config,
                ontime_facades::router(gateway.facades()?),
                shutdown,
            )
            .await
            .context("gateway")
        }
        Part::Scheduler { common } => {
            let topology = common
                .topology(&common.nats_url, "ontime-scheduler")
                .await?;
            tracing::info!("scheduler running");
            serve_metrics(&common, metrics, shutdown.clone()).await?;
            ontime_scheduler::run(topology, common.scheduler_config()?, shutdown)
                .await
                .context("scheduler")
        }
        Part::Worker { common, commands } => {
            let config = ontime_worker::WorkerConfig {
                commands: commands.commands(&common)?,
                ..common.worker_config(&PartDefaults::alone())?
            };
            tracing::info!(guard = %config.guard.describe(), "target guard");
            let topology = common.topology(&common.nats_url, "ontime-worker").await?;
            tracing::info!("worker running");
            serve_metrics(&common, metrics, shutdown.clone()).await?;
            ontime_worker::run(topology, config, shutdown)
                .await
                .context("worker")
        }
    }
}

/// `GET /metrics` on `--metrics-http`, for a part run alone, until `shutdown`.
async fn serve_metrics(
    common: &CommonArgs,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Some(addr) = &common.metrics_http else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "metrics on /metrics");
    let app = ontime_gateway::metrics::router(metrics);
    tokio::spawn(async move {
        let stopped = async move { shutdown.cancelled().await };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// Cancels the root token on Ctrl-C or SIGTERM; a second signal exits at once.
async fn cancel_on_signal(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::info!("shutting down (a second signal exits at once)");
    token.cancel();
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    std::process::exit(130);
}
