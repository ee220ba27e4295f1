//! The processes of the soak (nats-server nodes and ontime's gateways, schedulers and
//! workers): start, SIGKILL, SIGSTOP/SIGCONT, restart, and a watchdog that restarts a process
//! that exited on its own (and reports it: that is a finding, not a fault we injected).
//!
//! Every child runs in its own process group, so a Ctrl-C in the terminal reaches only
//! ontime-chaos, which then kills every child itself. Each child's stdout and stderr go to
//! `<work dir>/logs/<name>.log`, appended across restarts with a marker line per start.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::util::{log, stamp};

/// What a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Nats,
    Gateway,
    Scheduler,
    Worker,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Nats => "nats-server",
            Role::Gateway => "gateway",
            Role::Scheduler => "scheduler",
            Role::Worker => "worker",
        }
    }
}

/// How to start one process.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub role: Role,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

/// The pids of every running child, for a last-resort SIGKILL (Ctrl-C, errors).
#[derive(Clone, Default)]
pub struct Registry(Arc<Mutex<HashMap<String, u32>>>);

impl Registry {
    fn set(&self, name: &str, pid: Option<u32>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match pid {
            Some(pid) => map.insert(name.to_owned(), pid),
            None => map.remove(name),
        };
    }

    /// SIGKILLs every child still registered (a stopped process dies of SIGKILL too).
    pub fn kill_all(&self) {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (name, pid) in map.iter() {
            eprintln!("killing leftover {name} (pid {pid})");
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
    }
}

/// One supervised process.
pub struct Proc {
    pub spec: Spec,
    child: Option<Child>,
    registry: Registry,
    /// How many times it was started.
    pub starts: u32,
}

impl Proc {
    fn new(spec: Spec, registry: Registry) -> Self {
        Self {
            spec,
            child: None,
            registry,
            starts: 0,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Starts it (again), appending to its log.
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.child.is_none(),
            "{} is already running",
            self.spec.name
        );
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .with_context(|| format!("opening {}", self.spec.log.display()))?;
        writeln!(
            file,
            "===== ontime-chaos: start #{} of {} at {} =====",
            self.starts + 1,
            self.spec.name,
            stamp(Utc::now())
        )?;
        let child = Command::new(&self.spec.program)
            .args(&self.spec.args)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.spec.program.display()))?;
        self.registry.set(&self.spec.name, child.id());
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    pub fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid() {
            let _ = kill(Pid::from_raw(pid as i32), signal);
        }
    }

    /// SIGKILL, and reap it.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
            self.registry.set(&self.spec.name, None);
        }
    }

    /// SIGTERM (after SIGCONT, in case it is stopped); SIGKILL if it is not gone in `grace`.
    pub async fn terminate(&mut self, grace: Duration) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let pid = Pid::from_raw(pid as i32);
                let _ = kill(pid, Signal::SIGCONT);
                let _ = kill(pid, Signal::SIGTERM);
            }
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
            self.registry.set(&self.spec.name, None);
        }
    }

    /// `Some(status)` if it has exited (the child is then forgotten).
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        self.registry.set(&self.spec.name, None);
        Some(status.to_string())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // kill_on_drop SIGKILLs the child; forget its pid so nobody signals a reused one.
        if self.child.is_some() {
            self.registry.set(&self.spec.name, None);
        }
    }
}

/// A process of the fleet with what the others need to know about it.
pub struct Member {
    pub name: String,
    pub role: Role,
    /// Gateway: its base URL. nats-server: its monitoring base URL.
    pub http: Option<String>,
    pub proc: tokio::sync::Mutex<Proc>,
}

/// A process that exited without being told to.
#[derive(Debug, Clone)]
pub struct UnexpectedExit {
    pub at: DateTime<Utc>,
    pub name: String,
    pub status: String,
}

/// Every process of the soak.
pub struct Fleet {
    pub members: Vec<Arc<Member>>,
    pub unexpected: Mutex<Vec<UnexpectedExit>>,
}

impl Fleet {
    pub fn new(specs: Vec<(Spec, Option<String>)>, registry: &Registry) -> Self {
        let members = specs
            .into_iter()
            .map(|(spec, http)| {
                Arc::new(Member {
                    name: spec.name.clone(),
                    role: spec.role,
                    http,
                    proc: tokio::sync::Mutex::new(Proc::new(spec, registry.clone())),
                })
            })
            .collect();
        Self {
            members,
            unexpected: Mutex::new(Vec::new()),
        }
    }

    pub fn with_role(&self, role: Role) -> Vec<Arc<Member>> {
        self.members
            .iter()
            .filter(|m| m.role == role)
            .cloned()
            .collect()
    }

    pub async fn start_role(&self, role: Role) -> anyhow::Result<()> {
        for member in self.with_role(role) {
            let mut proc = member.proc.lock().await;
            proc.start()?;
            log(format!(
                "started {} (pid {})",
                member.name,
                proc.pid().unwrap_or(0)
            ));
        }
        Ok(())
    }

    /// Restarts any process that exited on its own, every half second, until cancelled. A
    /// process being faulted is locked by the fault injector and skipped here.
    pub async fn watchdog(self: Arc<Self>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            for member in &self.members {
                let Ok(mut proc) = member.proc.try_lock() else {
                    continue;
                };
                if let Some(status) = proc.exited() {
                    log(format!(
                        "UNEXPECTED EXIT of {} ({status}); restarting it",
                        member.name
                    ));
                    self.unexpected
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(UnexpectedExit {
                            at: Utc::now(),
                            name: member.name.clone(),
                            status,
                        });
                    if let Err(e) = proc.start() {
                        log(format!("cannot restart {}: {e:#}", member.name));
                    }
                }
            }
        }
    }

    /// Stops everything: ontime's processes first (SIGTERM, then SIGKILL), then NATS.
    pub async fn shutdown(&self) {
        for member in self.members.iter().filter(|m| m.role != Role::Nats) {
            member
                .proc
                .lock()
                .await
                .terminate(Duration::from_secs(3))
                .await;
        }
        for member in self.with_role(Role::Nats) {
            member
                .proc
                .lock()
                .await
                .terminate(Duration::from_secs(5))
                .await;
        }
    }
}
