//! The fault injector: at random intervals, one fault at a time, so never two nats-server
//! nodes down at once; each round deals every kind once, and nats-server kills
//! `nats_kills_per_round` times:
//! - SIGKILL a scheduler, a worker or a gateway, and start it again 0.5-3 s later;
//! - SIGKILL one nats-server node, and start it again 3-8 s later on the same store (only
//!   when all three nodes are healthy, i.e. the previous victim has caught up);
//! - SIGSTOP any process for 2-5 s, then SIGCONT (a nats node only when all three are healthy).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;
use tokio_util::sync::CancellationToken;

use crate::procs::{Fleet, Member, Role};
use crate::rng::Rng;
use crate::util::log;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Kill,
    Stop,
}

/// One injected fault: from `start` (the signal) to `end` (restarted or continued).
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: Kind,
    pub role: Role,
    pub target: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Fault {
    pub fn label(&self) -> String {
        let what = match self.kind {
            Kind::Kill => "SIGKILL",
            Kind::Stop => "SIGSTOP",
        };
        format!("{what} {}", self.target)
    }
}

pub struct Injector {
    pub fleet: Arc<Fleet>,
    pub http: reqwest::Client,
    pub rng: Rng,
    pub min_gap: Duration,
    pub max_gap: Duration,
    /// nats-server kills in every round of faults, which deals each other kind once.
    pub nats_kills_per_round: usize,
    pub log: Arc<Mutex<Vec<Fault>>>,
}

/// What the next fault is.
#[derive(Debug, Clone, Copy)]
enum Choice {
    Kill(Role),
    Stop,
}

impl Injector {
    /// Injects faults until `stop` is cancelled; a fault under way is always finished (the
    /// process restarted or continued) before returning.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut deck = Vec::new();
        loop {
            let gap = self.rng.duration(self.min_gap, self.max_gap);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(gap) => {}
            }
            // The kinds are dealt from a shuffled deck, so that every kind comes up in every
            // round of faults, however short the run.
            if deck.is_empty() {
                deck = vec![
                    Choice::Kill(Role::Scheduler),
                    Choice::Kill(Role::Worker),
                    Choice::Kill(Role::Gateway),
                    Choice::Stop,
                ];
                deck.extend(std::iter::repeat_n(
                    Choice::Kill(Role::Nats),
                    self.nats_kills_per_round,
                ));
                self.rng.shuffle(&mut deck);
            }
            let choice = deck.pop().expect("refilled");
            if let Some(fault) = self.inject(choice).await {
                self.log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(fault);
            }
        }
    }

    async fn nats_all_healthy(&self) -> bool {
        let monitors: Vec<String> = self
            .fleet
            .with_role(Role::Nats)
            .iter()
            .filter_map(|m| m.http.clone())
            .collect();
        crate::cluster::all_healthy(&self.http, &monitors).await
    }

    async fn inject(&mut self, choice: Choice) -> Option<Fault> {
        // A nats node is a candidate only when the whole cluster is healthy: never two
        // nodes out at once, and never a node whose predecessor has not caught up yet. A
        // node kill waits up to 30 s for that.
        let mut nats_ok = self.nats_all_healthy().await;
        if matches!(choice, Choice::Kill(Role::Nats)) {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !nats_ok && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(1)).await;
                nats_ok = self.nats_all_healthy().await;
            }
        }
        let candidates: Vec<Arc<Member>> = match choice {
            Choice::Kill(Role::Nats) if !nats_ok => {
                log("fault: no nats-server kill, the cluster is not all healthy after 30 s");
                self.fleet
                    .members
                    .iter()
                    .filter(|m| m.role != Role::Nats)
                    .cloned()
                    .collect()
            }
            Choice::Kill(role) => self.fleet.with_role(role),
            Choice::Stop => self
                .fleet
                .members
                .iter()
                .filter(|m| nats_ok || m.role != Role::Nats)
                .cloned()
                .collect(),
        };
        let member = self.rng.pick(&candidates).clone();
        let mut proc = member.proc.lock().await;
        let Some(pid) = proc.pid() else {
            log(format!("fault: {} is not running, skipped", member.name));
            return None;
        };
        let start = Utc::now();
        let kind = match choice {
            Choice::Kill(_) => {
                let down = if member.role == Role::Nats {
                    self.rng
                        .duration(Duration::from_secs(3), Duration::from_secs(8))
                } else {
                    self.rng
                        .duration(Duration::from_millis(500), Duration::from_secs(3))
                };
                log(format!(
                    "FAULT SIGKILL {} (pid {pid}); restart in {:.1}s",
                    member.name,
                    down.as_secs_f64()
                ));
                proc.kill().await;
                tokio::time::sleep(down).await;
                match proc.start() {
                    Ok(()) => log(format!(
                        "      restarted {} (pid {})",
                        member.name,
                        proc.pid().unwrap_or(0)
                    )),
                    Err(e) => log(format!("      cannot restart {}: {e:#}", member.name)),
                }
                Kind::Kill
            }
            Choice::Stop => {
                let pause = self
                    .rng
                    .duration(Duration::from_secs(2), Duration::from_secs(5));
                log(format!(
                    "FAULT SIGSTOP {} (pid {pid}) for {:.1}s",
                    member.name,
                    pause.as_secs_f64()
                ));
                proc.signal(Signal::SIGSTOP);
                tokio::time::sleep(pause).await;
                proc.signal(Signal::SIGCONT);
                log(format!("      SIGCONT {}", member.name));
                Kind::Stop
            }
        };
        Some(Fault {
            kind,
            role: member.role,
            target: member.name.clone(),
            start,
            end: Utc::now(),
        })
    }
}
