//! One ontime installation as separate processes: a nats-server, `ontime gateway`,
//! `ontime scheduler` and `ontime worker`, so that each one's memory can be read apart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, consumer};

use crate::procs::{Bins, Nats, Proc, RssMap, Sync, free_port};

/// Names of ontime's topology with the default prefix (docs/wire.md).
pub const CMD_STREAM: &str = "ONTIME_CMD";
pub const CMD_CONSUMER: &str = "schedulers";
pub const SCHED_STREAM: &str = "ONTIME_SCHED";
pub const TICK_CONSUMER: &str = "schedulers-tick";
pub const SLOTS_STREAM: &str = "ONTIME_SLOTS";
pub const FIRE_STREAM: &str = "ONTIME_CALLS";
pub const FIRE_CONSUMER: &str = "workers";
pub const KV_STREAM: &str = "KV_ONTIME_TIMERS";
/// The key a benchmark's parts share.
const SECRET_KEY: &str = "YmVuY2gtcnVuLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=";

pub struct Ontime {
    /// nats-server's store.
    pub store: PathBuf,
    pub nats: Nats,
    /// gateway, scheduler, worker.
    pub parts: Vec<Proc>,
    /// The gateway's base URL.
    pub http: String,
    pub js: jetstream::Context,
}

impl Ontime {
    /// Starts nats-server (store under `dir/jetstream`) and the three parts, and waits until
    /// the gateway is ready and the scheduler and the worker are pulling.
    pub async fn start(bins: &Bins, dir: &Path, sync: Sync) -> anyhow::Result<Self> {
        Self::start_with_workers(bins, dir, sync, 1).await
    }

    /// [`Self::start`], with `workers` worker processes.
    pub async fn start_with_workers(
        bins: &Bins,
        dir: &Path,
        sync: Sync,
        workers: usize,
    ) -> anyhow::Result<Self> {
        Self::start_on(bins, dir, sync, 1, workers).await
    }

    /// [`Self::start`] on `nodes` nats-servers (1, or a cluster of 3 with every stream and
    /// bucket replicated on all three), with `workers` worker processes.
    pub async fn start_on(
        bins: &Bins,
        dir: &Path,
        sync: Sync,
        nodes: usize,
        workers: usize,
    ) -> anyhow::Result<Self> {
        let store = dir.join("jetstream");
        let nats = Nats::start_nodes(bins, dir, &store, sync, nodes).await?;
        let url = nats.url();
        let http_addr = format!("127.0.0.1:{}", free_port());
        let mut parts = Vec::new();
        let workers = (0..workers).map(|i| match i {
            0 => ("worker".to_owned(), vec![]),
            i => (format!("worker{}", i + 1), vec![]),
        });
        let parts_to_start = [
            ("gateway".to_owned(), vec!["--http", http_addr.as_str()]),
            ("scheduler".to_owned(), vec![]),
        ]
        .into_iter()
        .chain(workers);
        for (label, extra) in parts_to_start {
            let name = label.trim_end_matches(|c: char| c.is_ascii_digit());
            let mut cmd = Command::new(&bins.ontime);
            cmd.arg(name).args(["--nats-url", &url]).args(extra);
            // The sink is on loopback, the parts share a key, the load sends no tokens.
            cmd.env("ONTIME_ALLOW_TARGETS", "loopback")
                .env("ONTIME_SECRET_KEY", SECRET_KEY)
                .env("ONTIME_AUTH", "off");
            if bins.stages {
                cmd.env("ONTIME_LOG", crate::stages::LOG_FILTER);
            }
            if bins.scheduled_fires {
                cmd.env("ONTIME_SCHEDULED_FIRES", "true");
            }
            // Group commit saves disk barriers only where the server syncs every write; with
            // the lazy default the parts are told not to batch (`--batch-from 0`).
            if sync == Sync::Default {
                cmd.env("ONTIME_BATCH_FROM", "0");
            }
            cmd.env("ONTIME_REPLICAS", nats.replicas().to_string());
            parts.push(Proc::spawn(&label, cmd, dir.join(format!("{label}.log")))?);
            // On a new cluster, parts creating the replicated streams all at once hold each
            // other up for minutes; once the gateway has made them, the others find them.
            if label == "gateway" && nats.replicas() > 1 {
                let gateway = parts.last_mut().expect("the gateway was just started");
                let base = format!("http://{http_addr}");
                wait_for_gateway(gateway, &base, Duration::from_secs(120)).await?;
            }
        }
        let first = nats.client_url();
        let client = async_nats::connect(&first)
            .await
            .with_context(|| format!("connecting to {first}"))?;
        let mut ontime = Self {
            store,
            nats,
            parts,
            http: format!("http://{http_addr}"),
            js: jetstream::new(client),
        };
        ontime.wait_ready(Duration::from_secs(60)).await?;
        Ok(ontime)
    }

    async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        let http = reqwest::Client::new();
        loop {
            for part in &mut self.parts {
                part.check_alive()?;
            }
            let mut pulling = answers_ready(&http, &self.http).await;
            for (stream, name) in [
                (CMD_STREAM, CMD_CONSUMER),
                (SCHED_STREAM, TICK_CONSUMER),
                (FIRE_STREAM, FIRE_CONSUMER),
            ] {
                pulling = pulling
                    && self
                        .consumer_info(stream, name)
                        .await
                        .is_ok_and(|i| i.num_waiting > 0);
            }
            if pulling {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("ontime did not become ready within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn consumer_info(&self, stream: &str, name: &str) -> anyhow::Result<consumer::Info> {
        let mut c: consumer::PullConsumer = self
            .js
            .get_consumer_from_stream(name, stream)
            .await
            .with_context(|| format!("consumer {stream}/{name}"))?;
        Ok(c.info().await?.clone())
    }

    pub async fn stream_messages(&self, stream: &str) -> anyhow::Result<u64> {
        let mut s = self.js.get_stream(stream).await?;
        Ok(s.info().await?.state.messages)
    }

    /// Waits until the schedulers have applied every command (their consumer is drained),
    /// checking that every part stays up.
    pub async fn wait_applied(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            for part in &mut self.parts {
                part.check_alive()?;
            }
            // A work queue: a command (single or batch, whichever consumer takes it) stays
            // in the stream until the scheduler has applied it.
            let left = self.stream_messages(CMD_STREAM).await?;
            if left == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the scheduler has not applied every command within {within:?} ({left} left)"
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The parts (and nats-server) that are no longer running, as warnings.
    pub fn exited(&mut self) -> Vec<String> {
        self.nats
            .procs
            .iter_mut()
            .chain(&mut self.parts)
            .filter_map(|p| p.check_alive().err())
            .map(|e| format!("{e:#}"))
            .collect()
    }

    /// Memory of nats-server and of each part.
    pub fn rss(&self) -> RssMap {
        self.nats
            .procs
            .iter()
            .chain(&self.parts)
            .filter_map(|p| Some((p.name.clone(), p.rss()?)))
            .collect()
    }

    /// Stops the parts, then nats-server.
    pub async fn stop(self) {
        for part in self.parts {
            part.shutdown(Duration::from_secs(10)).await;
        }
        self.nats.shutdown(Duration::from_secs(30)).await;
    }
}

/// Whether the gateway at `base` (`http://…`) answers `/ready` with a success.
async fn answers_ready(http: &reqwest::Client, base: &str) -> bool {
    http.get(format!("{base}/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Waits until the gateway at `base` answers `/ready`, checking that it stays up.
async fn wait_for_gateway(gateway: &mut Proc, base: &str, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let http = reqwest::Client::new();
    loop {
        gateway.check_alive()?;
        if answers_ready(&http, base).await {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the gateway did not become ready within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
