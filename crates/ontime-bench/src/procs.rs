//! The processes a scenario starts: nats-server and ontime's parts, each a child of the bench
//! with its log in the scenario's directory. Every child is stopped when its handle is dropped
//! (SIGTERM, then SIGKILL), so no nats-server outlives the bench, even on an error.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;

/// Where the binaries are.
#[derive(Debug, Clone)]
pub struct Bins {
    pub ontime: PathBuf,
    pub nats_server: PathBuf,
    /// `--stages`: run ontime's processes with their timing events on.
    pub stages: bool,
    /// `--scheduled-fires`: run ontime's schedulers with `--scheduled-fires`.
    pub scheduled_fires: bool,
}

impl Bins {
    /// `--ontime-bin`, else `ontime` next to this executable (target/release), else
    /// `target/release/ontime`; `--nats-server-bin` / `ONTIME_NATS_SERVER_BIN`, else the
    /// project's pinned install under `nats/.install`.
    pub fn locate(ontime: Option<PathBuf>, nats_server: Option<PathBuf>) -> anyhow::Result<Self> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let ontime = match ontime {
            Some(path) => path,
            None => {
                let sibling = std::env::current_exe()
                    .ok()
                    .and_then(|exe| exe.parent().map(|dir| dir.join("ontime")));
                [sibling, Some(repo.join("target/release/ontime"))]
                    .into_iter()
                    .flatten()
                    .find(|p| p.is_file())
                    .context("no ontime binary: run `cargo build --release -p ontime` or pass --ontime-bin")?
            }
        };
        let nats_server = match nats_server {
            Some(path) => path,
            None => [
                PathBuf::from("nats/.install/2.15.1/bin/nats-server"),
                repo.join("nats/.install/2.15.1/bin/nats-server"),
            ]
            .into_iter()
            .find(|p| p.is_file())
            .context("no nats-server: run nats/install.sh or pass --nats-server-bin")?,
        };
        anyhow::ensure!(ontime.is_file(), "{} is not a file", ontime.display());
        anyhow::ensure!(
            nats_server.is_file(),
            "{} is not a file",
            nats_server.display()
        );
        Ok(Self {
            ontime,
            nats_server,
            stages: false,
            scheduled_fires: false,
        })
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Memory of one process, in MiB: peak (VmHWM) and current (VmRSS) resident set; and the
/// CPU time it has used so far (user + system, seconds), to see where a scenario's work went.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rss {
    pub peak_mb: f64,
    pub now_mb: f64,
    pub cpu_s: f64,
}

impl Rss {
    pub fn of(pid: u32) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kb| kb.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        };
        Some(Self {
            peak_mb: field("VmHWM:")?,
            now_mb: field("VmRSS:")?,
            cpu_s: cpu_seconds(pid).unwrap_or(f64::NAN),
        })
    }
}

/// utime + stime of /proc/<pid>/stat (fields 14 and 15, counted after the command name,
/// which may hold spaces), in clock ticks of 1/100 s (USER_HZ on Linux).
fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_of(Path::new(&format!("/proc/{pid}/stat")))
}

/// The same of a `stat` file of /proc (a process's or a thread's).
pub fn cpu_of(stat: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Memory per process name.
pub type RssMap = BTreeMap<String, Rss>;

/// Every child running, with its pid file if any: what [`stop_all`] stops.
static RUNNING: Mutex<BTreeMap<u32, Option<PathBuf>>> = Mutex::new(BTreeMap::new());

fn running() -> std::sync::MutexGuard<'static, BTreeMap<u32, Option<PathBuf>>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stops every child still running (SIGTERM, SIGKILL 3 s later) and the grandchildren their
/// pid files name: for the bench's own SIGINT/SIGTERM, when no destructor will run.
pub fn stop_all() {
    let children = std::mem::take(&mut *running());
    for pid in children.keys() {
        let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGTERM);
    }
    std::thread::sleep(Duration::from_secs(3));
    for (pid, pid_file) in &children {
        let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        if let Some(grandchild) = pid_file.as_deref().and_then(nats_pid_in) {
            let _ = kill(Pid::from_raw(grandchild as i32), Signal::SIGKILL);
        }
    }
}

/// The pid a pid file names, if it is a running nats-server.
fn nats_pid_in(pid_file: &Path) -> Option<u32> {
    let pid = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse::<u32>()
        .ok()?;
    is_nats_server(pid).then_some(pid)
}

/// A child process, stopped on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
    /// A pid file naming a grandchild to stop too (`ontime dev`'s nats-server).
    pid_file: Option<PathBuf>,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> anyhow::Result<Self> {
        let file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", cmd.get_program()))?;
        running().insert(child.id(), None);
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
            pid_file: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn with_pid_file(mut self, pid_file: PathBuf) -> Self {
        running().insert(self.pid(), Some(pid_file.clone()));
        self.pid_file = Some(pid_file);
        self
    }

    /// The pid written in this process's pid file, if that process is alive.
    pub fn grandchild(&self) -> Option<u32> {
        nats_pid_in(self.pid_file.as_deref()?)
    }

    pub fn rss(&self) -> Option<Rss> {
        Rss::of(self.pid())
    }

    /// Fails if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); its log {}:\n{}",
                self.name,
                self.log.display(),
                self.log_tail(20)
            );
        }
        Ok(())
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_for_log(&mut self, needle: &str, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains(needle)) {
                return Ok(());
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "{} did not log {needle:?} within {within:?}; its log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM, then SIGKILL after `grace`; waits for the exit. Idempotent.
    pub fn stop(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + grace;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        // A grandchild left behind (its parent was SIGKILLed) is stopped here.
        if let Some(pid) = self.grandchild() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        running().remove(&self.pid());
    }

    /// Stops it without blocking the runtime.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = tokio::task::spawn_blocking(move || self.stop(grace)).await;
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

fn is_nats_server(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.contains("nats-server"))
}

/// nats-server's `sync_interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sync {
    /// fsync before every acknowledgement (the shipped `nats/single.conf`).
    Always,
    /// nats-server's default (lazy fsync every 2 minutes).
    Default,
}

impl Sync {
    pub fn label(self) -> &'static str {
        match self {
            Sync::Always => "always",
            Sync::Default => "default",
        }
    }
}

/// nats-server with JetStream: one server on a free port, its store in `store_dir`, or a
/// cluster of three (`nodes: 3`), each with a store of its own under `store_dir`, as
/// `nats/cluster/` sets one up, on free loopback ports.
pub struct Nats {
    pub procs: Vec<Proc>,
    pub ports: Vec<u16>,
}

impl Nats {
    pub async fn start_nodes(
        bins: &Bins,
        dir: &Path,
        store_dir: &Path,
        sync: Sync,
        nodes: usize,
    ) -> anyhow::Result<Self> {
        let sync_line = match sync {
            Sync::Always => "  sync_interval: always\n",
            Sync::Default => "",
        };
        let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
        let mut procs = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let (name, store, cluster) = if nodes == 1 {
                (
                    "nats-server".to_owned(),
                    store_dir.to_path_buf(),
                    String::new(),
                )
            } else {
                let all = routes
                    .iter()
                    .map(|r| format!("nats-route://127.0.0.1:{r}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    format!("nats-n{}", i + 1),
                    store_dir.join(format!("n{}", i + 1)),
                    format!(
                        "server_name: n{}\ncluster {{\n  name: bench\n  listen: 127.0.0.1:{}\n  routes: [{all}]\n}}\n",
                        i + 1,
                        routes[i]
                    ),
                )
            };
            let conf = dir.join(format!("{name}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "listen: 127.0.0.1:{port}\nmax_payload: 8MB\n{cluster}jetstream {{\n  store_dir: {:?}\n{sync_line}}}\n",
                    store.display().to_string()
                ),
            )?;
            let mut cmd = Command::new(&bins.nats_server);
            cmd.arg("-c").arg(&conf);
            procs.push(Proc::spawn(&name, cmd, dir.join(format!("{name}.log")))?);
        }
        for proc in &mut procs {
            proc.wait_for_log("Server is ready", Duration::from_secs(300))
                .await?;
        }
        let nats = Self { procs, ports };
        if nodes > 1 {
            nats.wait_for_meta_leader(Duration::from_secs(60)).await?;
        }
        Ok(nats)
    }

    /// A cluster takes streams once its JetStream meta group has a leader.
    async fn wait_for_meta_leader(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + within;
        let client = async_nats::connect(self.client_url()).await?;
        let js = async_nats::jetstream::new(client);
        loop {
            if js.query_account().await.is_ok() {
                return Ok(());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the cluster's JetStream had no leader within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every server's client URL, comma-separated (as ontime's `--nats-url` takes them).
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|port| format!("nats://127.0.0.1:{port}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The first server's URL, for the bench's own connections (any server of a cluster
    /// serves every stream).
    pub fn client_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.ports[0])
    }

    /// Stream replicas that fit: one per server.
    pub fn replicas(&self) -> usize {
        self.procs.len()
    }

    /// Memory and CPU of every server.
    pub fn rss(&self) -> RssMap {
        self.procs
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.rss()?)))
            .collect()
    }

    pub async fn shutdown(self, within: Duration) {
        for proc in self.procs {
            proc.shutdown(within).await;
        }
    }
}

/// Total size of the files under `path`, in MiB.
pub fn disk_mb(path: &Path) -> f64 {
    fn walk(path: &Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(path) else {
            return 0;
        };
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                // Allocated blocks, as du counts them (files may be sparse or preallocated).
                Ok(m) => m.blocks() * 512,
                Err(_) => 0,
            })
            .sum()
    }
    walk(path) as f64 / (1024.0 * 1024.0)
}
