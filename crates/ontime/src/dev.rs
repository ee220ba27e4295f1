//! `ontime dev`: nats-server as a child, then the gateway, a scheduler and a worker in this
//! process. The child is stopped on the way out, whatever the way out is.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use ontime_core::trust::seal::SecretKey;
use tokio_util::sync::CancellationToken;

use crate::config::{CommandArgs, CommonArgs, GatewayArgs, PartDefaults};
use crate::nats_server::{self, NatsServer};

#[derive(Args, Debug)]
pub struct DevArgs {
    /// Port of the embedded nats-server.
    #[arg(long, env = "ONTIME_NATS_PORT", default_value_t = 4222)]
    pub nats_port: u16,
    /// Where nats-server keeps its data (and its config and pid file).
    #[arg(long, env = "ONTIME_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The nats-server binary (default: nats/.install, then PATH).
    #[arg(long, env = "ONTIME_NATS_SERVER_BIN")]
    pub nats_server_bin: Option<PathBuf>,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    /// `--commands` adds a command worker (off by default).
    #[command(flatten)]
    pub commands: CommandArgs,
}

pub async fn run(
    args: DevArgs,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let bin = nats_server::locate(args.nats_server_bin.clone())?;
    let server = NatsServer::start(&bin, args.nats_port, &args.data_dir).await?;
    tracing::info!(port = args.nats_port, data_dir = %args.data_dir.display(), "nats-server ready");
    let result = run_parts(&args, metrics, shutdown).await;
    server.stop().await;
    tracing::info!("stopped");
    result
}

async fn run_parts(
    args: &DevArgs,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.gateway.http)
        .await
        .with_context(|| format!("binding {}", args.gateway.http))?;
    let loopback = listener.local_addr()?.ip().is_loopback();
    let defaults = PartDefaults {
        // Users try their timers against a server on their own machine.
        allow_targets: "loopback",
        secret_key: Some(secret_key(&args.data_dir)?),
        // Reachable from elsewhere, the API needs tokens like any gateway's.
        tokens_by_default: !loopback,
    };
    // The gateway's /metrics shows every part: they share this process's recorder.
    let gateway_config = ontime_gateway::GatewayConfig {
        metrics: Some(metrics),
        ..args.gateway.config(&args.common, &defaults)?
    };
    let worker_config = args.common.worker_config(&defaults)?;
    tracing::info!(guard = %worker_config.guard.describe(), "target guard");
    let url = format!("nats://127.0.0.1:{}", args.nats_port);
    // One connection per part, as if they were separate processes: no part's traffic
    // queues behind another's on a shared socket.
    let gateway_topology = args.common.topology(&url, "ontime-gateway").await?;
    let scheduler_topology = args.common.topology(&url, "ontime-scheduler").await?;
    let worker_topology = args.common.topology(&url, "ontime-worker").await?;
    crate::config::show_first_admin_token(&gateway_topology, &gateway_config).await?;
    tracing::info!(addr = %listener.local_addr()?, "ontime dev ready");

    // Any part that stops (or fails) stops the others: a half-running dev server is worse
    // than none.
    let stop = shutdown.child_token();
    let gateway = tokio::spawn(ontime_gateway::serve_with(
        listener,
        gateway_topology,
        gateway_config,
        ontime_facades::router(args.gateway.facades()?),
        stop.child_token(),
    ));
    let scheduler = tokio::spawn(ontime_scheduler::run(
        scheduler_topology,
        args.common.scheduler_config()?,
        stop.child_token(),
    ));
    let command_worker = match args.commands.commands(&args.common)? {
        Some(commands) => {
            let config = ontime_worker::WorkerConfig {
                commands: Some(commands),
                ..worker_config.clone()
            };
            let topology = args.common.topology(&url, "ontime-command-worker").await?;
            Some(tokio::spawn(ontime_worker::run(
                topology,
                config,
                stop.child_token(),
            )))
        }
        None => None,
    };
    let worker = tokio::spawn(ontime_worker::run(
        worker_topology,
        worker_config,
        stop.child_token(),
    ));
    let command_worker = async {
        match command_worker {
            Some(task) => stop_all_when_done(task, stop.clone(), "command worker").await,
            None => Ok(()),
        }
    };
    let (g, s, w, c) = tokio::join!(
        stop_all_when_done(gateway, stop.clone(), "gateway"),
        stop_all_when_done(scheduler, stop.clone(), "scheduler"),
        stop_all_when_done(worker, stop.clone(), "worker"),
        command_worker,
    );
    g.and(s).and(w).and(c)
}

async fn stop_all_when_done<E: std::error::Error + Send + Sync + 'static>(
    task: tokio::task::JoinHandle<Result<(), E>>,
    stop: CancellationToken,
    name: &str,
) -> anyhow::Result<()> {
    let result = task
        .await
        .with_context(|| format!("{name} panicked"))
        .and_then(|r| r.with_context(|| format!("{name} failed")));
    if !stop.is_cancelled() {
        tracing::warn!(part = name, "a part stopped; stopping the others");
        stop.cancel();
    }
    result
}

/// The data directory's secret key, made on the first start: secrets sealed by one run must
/// open in the next.
fn secret_key(data_dir: &Path) -> anyhow::Result<SecretKey> {
    let path = data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::parse(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::from_bytes(rand::random());
            std::fs::create_dir_all(data_dir)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            writeln!(file, "{}", key.to_base64())?;
            tracing::info!(path = %path.display(), "made a secret key for this data directory");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
