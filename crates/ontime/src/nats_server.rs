//! The embedded nats-server of `ontime dev`: a child process we start, wait for, and always
//! stop. A pid file in the data directory lets the next start stop a server orphaned by a
//! SIGKILL of ontime itself (the one signal no process can catch).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The configuration we ship (`nats/single.conf`): JetStream with `sync_interval: always`.
const SINGLE_CONF: &str = include_str!("../../../nats/single.conf");
/// The version `nats/install.sh` installs.
const PINNED: &str = "2.15.1";

pub struct NatsServer {
    child: Child,
    pid_file: PathBuf,
}

/// Finds the nats-server binary: the flag / env var, then the project's install dir, then PATH.
pub fn locate(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let mut candidates = vec![PathBuf::from(format!(
        "nats/.install/{PINNED}/bin/nats-server"
    ))];
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/ontime → the repository's nats/ directory.
        if let Some(repo) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            candidates.push(repo.join(format!("nats/.install/{PINNED}/bin/nats-server")));
        }
    }
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Ok(found);
    }
    Ok(PathBuf::from("nats-server"))
}

impl NatsServer {
    /// Starts nats-server on 127.0.0.1:`port` with its store under `data_dir`, and waits
    /// until it says it is ready.
    pub async fn start(bin: &Path, port: u16, data_dir: &Path) -> anyhow::Result<Self> {
        check_version(bin).await?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let pid_file = data_dir.join("nats-server.pid");
        stop_orphan(&pid_file);
        let conf = data_dir.join("nats-server.conf");
        std::fs::write(&conf, SINGLE_CONF).context("writing the nats-server config")?;
        let mut child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(port.to_string())
            .arg("-sd")
            .arg(data_dir.join("jetstream"))
            .arg("-P")
            .arg(&pid_file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "nats_server", "{line}");
                if line.contains("Server is ready") {
                    return true;
                }
            }
            false
        })
        .await;
        if ready != Ok(true) {
            let _ = child.start_kill();
            bail!(
                "nats-server did not become ready (port {port} in use? see its log with ONTIME_LOG=nats_server=debug)"
            );
        }
        // Keep draining its log so the pipe never fills and blocks it.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "nats_server", "{line}");
            }
        });
        Ok(Self { child, pid_file })
    }

    /// Stops the server cleanly (SIGTERM, then SIGKILL after 10 s) and waits for it.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_err()
            {
                let _ = self.child.kill().await;
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Refuses a nats-server without scheduled messages (Debian's is too old).
async fn check_version(bin: &Path) -> anyhow::Result<()> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .await
        .with_context(|| {
            format!(
                "running {} (install it with nats/install.sh, or pass --nats-server-bin)",
                bin.display()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.trim().rsplit('v').next().unwrap_or_default();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (2, 12) {
        bail!(
            "{} is {}; ontime needs nats-server 2.12 or later (scheduled messages): run nats/install.sh",
            bin.display(),
            text.trim()
        );
    }
    Ok(())
}

/// Stops a nats-server left running by an ontime that was killed with SIGKILL.
fn stop_orphan(pid_file: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    let is_nats = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.contains("nats-server"));
    if is_nats {
        tracing::warn!(pid, "stopping a nats-server left over from a previous run");
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        for _ in 0..100 {
            if kill(Pid::from_raw(pid), None).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_file(pid_file);
}
