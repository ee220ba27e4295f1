//! ontime's parts in-process, each a task that a test can abort (as a crash would stop it)
//! or restart, all sharing one test's nats-server under a prefix of their own.

use std::time::Duration;

use ontime_core::trust::guard::TargetGuard;
use ontime_core::trust::seal::SecretKey;
use ontime_nats::{Names, Topology, TopologyConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("t{}", uuid::Uuid::now_v7().simple())
        .chars()
        .take(24)
        .collect::<String>()
        .to_lowercase()
}

/// The secret key every test's parts share.
pub fn test_key() -> SecretKey {
    SecretKey::from_bytes([7; 32])
}

/// The gateway's settings in tests: the sinks are on loopback, and secrets can be kept.
pub fn gateway_config() -> ontime_gateway::GatewayConfig {
    ontime_gateway::GatewayConfig {
        guard: TargetGuard::loopback(),
        secret_key: Some(test_key()),
        ..Default::default()
    }
}

/// The workers' settings in tests: the sinks are on loopback, and calls are signed.
pub fn worker_config() -> ontime_worker::WorkerConfig {
    ontime_worker::WorkerConfig {
        guard: TargetGuard::loopback(),
        secret_key: Some(test_key()),
        ..Default::default()
    }
}

/// A command worker's settings in tests: the commands of `namespaces`.
pub fn command_worker_config(namespaces: &[&str]) -> ontime_worker::WorkerConfig {
    let namespaces = namespaces
        .iter()
        .map(|ns| ontime_core::Namespace::parse(ns).expect("a namespace"))
        .collect();
    ontime_worker::WorkerConfig {
        commands: Some(ontime_worker::Commands::of(namespaces)),
        ..worker_config()
    }
}

/// Which part of ontime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Scheduler,
    Worker,
}

struct Running {
    part: Part,
    token: CancellationToken,
    task: JoinHandle<()>,
}

/// A gateway (serving the seeds' facades too) plus any number of schedulers and workers.
pub struct Ontime {
    pub url: String,
    pub http: reqwest::Client,
    pub topology: Topology,
    /// The settings of the workers [`Ontime::add`] starts from now on.
    pub worker_config: ontime_worker::WorkerConfig,
    /// The configuration of the schedulers added from now on.
    pub scheduler_config: ontime_scheduler::SchedulerConfig,
    nats_url: String,
    config: TopologyConfig,
    gateway: JoinHandle<()>,
    parts: Vec<Running>,
}

impl Ontime {
    /// Starts a gateway, `schedulers` schedulers and `workers` workers on `nats_url`.
    pub async fn start(nats_url: &str, schedulers: usize, workers: usize) -> Self {
        Self::start_with(nats_url, schedulers, workers, gateway_config()).await
    }

    pub async fn start_with(
        nats_url: &str,
        schedulers: usize,
        workers: usize,
        gateway_config: ontime_gateway::GatewayConfig,
    ) -> Self {
        let config = TopologyConfig {
            names: Names::new(&unique_prefix()).unwrap(),
            ..TopologyConfig::default()
        };
        let topology = connect(nats_url, &config, "test-gateway").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gateway = tokio::spawn({
            let topology = topology.clone();
            async move {
                let _ = ontime_gateway::serve_with(
                    listener,
                    topology,
                    gateway_config,
                    ontime_facades::router(ontime_facades::FacadeConfig::default()),
                    CancellationToken::new(),
                )
                .await;
            }
        });
        let mut ontime = Self {
            url,
            http: reqwest::Client::new(),
            topology,
            worker_config: worker_config(),
            scheduler_config: ontime_scheduler::SchedulerConfig::default(),
            nats_url: nats_url.to_owned(),
            config,
            gateway,
            parts: Vec::new(),
        };
        for _ in 0..schedulers {
            ontime.add(Part::Scheduler).await;
        }
        for _ in 0..workers {
            ontime.add(Part::Worker).await;
        }
        ontime
    }

    pub fn names(&self) -> &Names {
        self.topology.names()
    }

    /// Starts one more scheduler or worker, on a connection of its own.
    pub async fn add(&mut self, part: Part) {
        let topology = connect(&self.nats_url, &self.config, "test-part").await;
        let token = CancellationToken::new();
        let task = match part {
            Part::Scheduler => {
                let config = self.scheduler_config.clone();
                tokio::spawn(run_logged(ontime_scheduler::run(
                    topology,
                    config,
                    token.clone(),
                )))
            }
            Part::Worker => {
                let config = self.worker_config.clone();
                tokio::spawn(run_logged(ontime_worker::run(
                    topology,
                    config,
                    token.clone(),
                )))
            }
        };
        self.parts.push(Running { part, token, task });
    }

    /// Aborts every running instance of `part` at once, as SIGKILL would: nothing is
    /// acknowledged or handed back on the way out.
    pub fn kill(&mut self, part: Part) {
        self.parts.retain(|r| {
            if r.part == part {
                r.task.abort();
                false
            } else {
                true
            }
        });
    }

    /// Stops every instance of `part` gracefully.
    pub async fn stop(&mut self, part: Part) {
        let (stopping, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.parts)
            .into_iter()
            .partition(|r| r.part == part);
        self.parts = keep;
        for r in stopping {
            r.token.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(30), r.task).await;
        }
    }

    /// `{base}/v1/namespaces/{ns}/...`
    pub fn api(&self, path: &str) -> String {
        format!("{}/v1{path}", self.url)
    }

    /// `method` on the API's `path` (under `/v1`) with `body` (if any) as JSON: the status and
    /// the answer's JSON (null when it has none).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.request(method.parse().unwrap(), self.api(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        (
            r.status().as_u16(),
            r.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// The first page of a timer's execution log, newest first; `None` when it cannot be
    /// read (for [`crate::eventually`]).
    pub async fn executions(&self, ns: &str, id: &str) -> Option<Vec<serde_json::Value>> {
        let url = self.api(&format!("/namespaces/{ns}/timers/{id}/executions"));
        let response = self.http.get(url).send().await.ok()?;
        let page: serde_json::Value = response.json().await.ok()?;
        page["items"].as_array().cloned()
    }
}

impl Drop for Ontime {
    fn drop(&mut self) {
        self.gateway.abort();
        for r in &self.parts {
            r.task.abort();
        }
    }
}

async fn run_logged<E: std::fmt::Display>(f: impl std::future::Future<Output = Result<(), E>>) {
    if let Err(e) = f.await {
        eprintln!("part stopped with an error: {e}");
    }
}

/// The topology under `prefix` on `server`, with the default settings, on a connection of
/// its own: for the tests of the NATS adapter itself.
pub async fn topology(server: &crate::NatsServer, prefix: &str) -> Topology {
    let config = TopologyConfig {
        names: Names::new(prefix).expect("a valid prefix"),
        ..TopologyConfig::default()
    };
    connect(&server.url(), &config, "test-topology").await
}

async fn connect(url: &str, config: &TopologyConfig, name: &str) -> Topology {
    let client = ontime_nats::connect(url, name)
        .await
        .expect("connect to NATS");
    Topology::ensure(client, config.clone())
        .await
        .expect("topology")
}
