//! `ontime-chaos`, behind `make chaos`: a soak with faults that exits non-zero on any lost
//! timer.
//!
//! It starts a 3-node nats-server cluster on loopback (R3 streams and buckets), two
//! schedulers, two gateways and three workers as separate processes, and an HTTP sink. For
//! `--duration` it creates timers at `--rate` through both gateways (due 1-20 s ahead,
//! one-time and recurring, some callbacks failing first, some deleted before they are due)
//! while a fault injector SIGKILLs and restarts a scheduler, a worker, a gateway or one
//! nats-server node (never two at once), or SIGSTOPs a process for a few seconds. Then it
//! waits for quiescence and judges against the sink (see `check`): every acknowledged
//! occurrence delivered, every duplicate recognisable by its `webhook-id`, nothing fired
//! after an acknowledged delete. Exit status: 0 pass, 1 fail, 2 the soak could not run.

mod check;
mod cluster;
mod faults;
mod load;
mod observe;
mod procs;
mod rng;
mod sink;
mod util;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{TimeDelta, Utc};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::procs::{Fleet, Registry, Role, Spec};
use crate::util::{log, parse_duration};

/// The soak behind `make chaos`.
#[derive(Parser, Debug, Clone)]
#[command(name = "ontime-chaos", version, about)]
struct Args {
    /// How long timers are created (`30s`, `3m`, `1m30s`).
    #[arg(long, default_value = "3m", value_parser = parse_duration)]
    duration: Duration,
    /// Timers created per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Share of recurring timers (every 2 s, 3 runs), if ontime accepts them.
    #[arg(long, default_value_t = 0.2)]
    recurring_share: f64,
    /// Share of the one-time timers due at least 5 s ahead that are deleted before they fall
    /// due (at least 3 s before).
    #[arg(long, default_value_t = 0.05)]
    delete_share: f64,
    /// Share of timers whose callback answers 500 to the first 1 or 2 calls of each
    /// occurrence.
    #[arg(long, default_value_t = 0.1)]
    fail_share: f64,
    /// Share of the one-time timers created through the batch endpoint, 20 per request,
    /// rather than one PUT each.
    #[arg(long, default_value_t = 0.2)]
    batch_share: f64,
    /// Seed of every random choice (default: from the clock; printed, so a plan can be
    /// replayed).
    #[arg(long)]
    seed: Option<u64>,
    /// Run the same load without injecting faults (a baseline).
    #[arg(long)]
    no_faults: bool,
    /// Shortest pause between two faults.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    fault_min: Duration,
    /// Longest pause between two faults.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    fault_max: Duration,
    /// nats-server node kills in every round of faults (one of each other kind): more of
    /// them hunt the windows where a command is answered on a client's retry.
    #[arg(long, default_value_t = 3)]
    nats_kills_per_round: usize,
    /// Fewest nats-server node kills a run with faults must have made to pass (a run that
    /// made fewer proved too little).
    #[arg(long, default_value_t = 3)]
    min_nats_kills: usize,
    /// Longest wait, after the last due time, for the last occurrences to be delivered.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    quiesce_timeout: Duration,
    /// The ontime binary (default: target/release/ontime of this workspace).
    #[arg(long, env = "ONTIME_BIN")]
    ontime_bin: Option<PathBuf>,
    /// The nats-server binary (default: what nats/install.sh installs).
    #[arg(long, env = "ONTIME_NATS_SERVER_BIN")]
    nats_server_bin: Option<PathBuf>,
    /// Keep the work directory (logs, stores) even when the run passes.
    #[arg(long)]
    keep: bool,
}

/// The repository root (this crate is `crates/ontime-chaos`).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn binaries(args: &Args) -> anyhow::Result<(PathBuf, PathBuf)> {
    let ontime = args
        .ontime_bin
        .clone()
        .unwrap_or_else(|| repo().join("target/release/ontime"));
    anyhow::ensure!(
        ontime.is_file(),
        "{} not found: build it with `cargo build --release -p ontime`, or pass --ontime-bin",
        ontime.display()
    );
    let nats = match &args.nats_server_bin {
        Some(path) => path.clone(),
        None => {
            let out = std::process::Command::new(repo().join("nats/install.sh"))
                .output()
                .context("running nats/install.sh")?;
            anyhow::ensure!(
                out.status.success(),
                "nats/install.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    anyhow::ensure!(nats.is_file(), "{} not found", nats.display());
    Ok((ontime, nats))
}

/// ontime's processes: two gateways, two schedulers, three workers.
fn ontime_specs(
    ontime: &Path,
    nats_urls: &str,
    logs: &Path,
) -> anyhow::Result<Vec<(Spec, Option<String>)>> {
    let mut specs = Vec::new();
    let common = ["--nats-url", nats_urls, "--replicas", "3"];
    for (role, count) in [(Role::Gateway, 2), (Role::Scheduler, 2), (Role::Worker, 3)] {
        for i in 1..=count {
            let name = format!("{}-{i}", role.name());
            let mut args: Vec<String> = vec![role.name().into()];
            args.extend(common.iter().map(|s| s.to_string()));
            let mut http = None;
            if role == Role::Gateway {
                let addr = format!("127.0.0.1:{}", util::free_port()?);
                args.extend(["--http".into(), addr.clone()]);
                http = Some(format!("http://{addr}"));
            }
            specs.push((
                Spec {
                    log: logs.join(format!("{name}.log")),
                    name,
                    role,
                    program: ontime.to_path_buf(),
                    args: args.into_iter().map(Into::into).collect(),
                    env: vec![
                        (
                            "ONTIME_LOG".into(),
                            std::env::var("ONTIME_LOG").unwrap_or("info,async_nats=warn".into()),
                        ),
                        // Plain log files, without colour codes.
                        ("NO_COLOR".into(), "1".into()),
                        // The sinks are on loopback; every part shares one key; the load
                        // generator sends no tokens.
                        ("ONTIME_ALLOW_TARGETS".into(), "loopback".into()),
                        ("ONTIME_SECRET_KEY".into(), SECRET_KEY.into()),
                        ("ONTIME_AUTH".into(), "off".into()),
                    ],
                },
                http,
            ));
        }
    }
    Ok(specs)
}

/// The key the parts of a chaos run share (a run's secrets live no longer than the run).
const SECRET_KEY: &str = "Y2hhb3MtcnVuLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=";

/// Polls until `ok` or `within` has passed.
async fn wait_until<F, Fut>(within: Duration, what: &str, mut ok: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !ok().await {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let registry = Registry::default();
    let interrupted = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let outcome = tokio::select! {
        outcome = run(args, registry.clone()) => outcome,
        _ = interrupted => Err(anyhow::anyhow!("interrupted")),
    };
    // Every child is killed when its handle drops; this catches any that was not.
    registry.kill_all();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ontime-chaos: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The soak; `Ok(passed)`.
async fn run(args: Args, registry: Registry) -> anyhow::Result<bool> {
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(
        args.fault_min <= args.fault_max,
        "--fault-min above --fault-max"
    );
    let (ontime, nats) = binaries(&args)?;
    let seed = args
        .seed
        .unwrap_or_else(|| Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64);
    let mut rng = rng::Rng::new(seed);

    let dir = std::env::temp_dir().join(format!(
        "ontime-chaos-{}-{}",
        Utc::now().format("%Y%m%d-%H%M%S"),
        std::process::id()
    ));
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", dir.display()))?;
    util::init_log(&dir);
    log(format!(
        "ontime-chaos: duration {:?}, rate {}/s, recurring {}, deletes {}, failing {}, batched {}, faults {}, seed {seed}",
        args.duration,
        args.rate,
        args.recurring_share,
        args.delete_share,
        args.fail_share,
        args.batch_share,
        if args.no_faults { "off" } else { "on" }
    ));
    log(format!(
        "work dir {} (process logs in logs/)",
        dir.display()
    ));
    let load_at_start = util::machine_load();
    log(format!("machine: {load_at_start}"));
    log(format!(
        "ontime {}, nats-server {}",
        ontime.display(),
        nats.display()
    ));
    // A copy, so that a rebuild during the soak cannot change what a restart runs.
    let ontime = {
        let copy = dir.join("ontime");
        std::fs::copy(&ontime, &copy).with_context(|| format!("copying {}", ontime.display()))?;
        copy
    };

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let sink = sink::Sink::start().await?;
    log(format!("sink at {}", sink.base));

    // The cluster, then ontime's processes.
    let nodes = cluster::prepare(&dir)?;
    let nats_urls = cluster::urls(&nodes);
    let mut specs = cluster::specs(&nodes, &nats, &logs);
    specs.extend(ontime_specs(&ontime, &nats_urls, &logs)?);
    let fleet = Arc::new(Fleet::new(specs, &registry));
    fleet.start_role(Role::Nats).await?;
    let monitors: Vec<String> = nodes.iter().map(cluster::Node::monitor).collect();
    wait_until(Duration::from_secs(60), "the NATS cluster healthy", || {
        cluster::all_healthy(&http, &monitors)
    })
    .await?;
    log(format!("NATS cluster healthy: {nats_urls}"));
    for role in [Role::Scheduler, Role::Worker, Role::Gateway] {
        fleet.start_role(role).await?;
    }
    let watchdog_stop = CancellationToken::new();
    let watchdog = tokio::spawn(fleet.clone().watchdog(watchdog_stop.clone()));
    let gateway_bases: Vec<String> = fleet
        .with_role(Role::Gateway)
        .iter()
        .filter_map(|m| m.http.clone())
        .collect();
    for base in &gateway_bases {
        wait_until(Duration::from_secs(60), &format!("{base}/ready"), || async {
            matches!(http.get(format!("{base}/ready")).send().await, Ok(r) if r.status().is_success())
        })
        .await?;
    }
    log("gateways ready");

    let gateways = Arc::new(load::Gateways::new(gateway_bases)?);
    let recurring = if args.recurring_share > 0.0 {
        let mode = load::probe_recurring(&gateways, &sink).await;
        match mode {
            Some(mode) => log(format!("recurring timers: {mode:?} shape accepted")),
            None => log(
                "WARNING: this ontime refuses recurring schedules (`every`): one-time timers only",
            ),
        }
        mode
    } else {
        None
    };

    // The soak: load, faults, progress.
    let faults_log = Arc::new(Mutex::new(Vec::new()));
    let faults_stop = CancellationToken::new();
    let injector = (!args.no_faults).then(|| {
        let injector = faults::Injector {
            fleet: fleet.clone(),
            http: http.clone(),
            rng: rng.fork(),
            min_gap: args.fault_min,
            max_gap: args.fault_max,
            nats_kills_per_round: args.nats_kills_per_round,
            log: faults_log.clone(),
        };
        tokio::spawn(injector.run(faults_stop.clone()))
    });
    let ledger = Arc::new(load::Ledger::default());
    let progress_stop = CancellationToken::new();
    let progress = tokio::spawn(observe::progress(
        ledger.clone(),
        sink.clone(),
        progress_stop.clone(),
    ));
    let config = load::LoadConfig {
        duration: args.duration,
        rate: args.rate,
        recurring_share: args.recurring_share,
        delete_share: args.delete_share,
        fail_share: args.fail_share,
        batch_share: args.batch_share,
        recurring,
    };
    let mut in_flight = load::run(
        config,
        rng.fork(),
        gateways.clone(),
        sink.clone(),
        ledger.clone(),
    )
    .await;
    log("creation over; stopping the fault injector (a fault under way is finished first)");
    faults_stop.cancel();
    if let Some(injector) = injector {
        let _ = injector.await;
    }
    while in_flight.join_next().await.is_some() {}
    log("every PUT and DELETE answered; waiting for quiescence");

    // Quiescence: until every expected occurrence is delivered, or the deadline passes.
    loop {
        let (missing, last_due) = check::pending(&ledger.snapshot(), &sink.calls(), None);
        let deadline = last_due.unwrap_or_else(Utc::now)
            + TimeDelta::from_std(args.quiesce_timeout).unwrap_or_default();
        if missing == 0 {
            log("every expected occurrence delivered");
            break;
        }
        if Utc::now() > deadline {
            log(format!(
                "quiescence deadline passed with {missing} occurrence(s) missing"
            ));
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // A little more, for late duplicates and calls after deletes to show up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    progress_stop.cancel();
    let _ = progress.await;
    watchdog_stop.cancel();
    let _ = watchdog.await;

    let timers = ledger.snapshot();
    let calls = sink.calls();
    let faults = faults_log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let unexpected = fleet
        .unexpected
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let verdict = check::judge(&timers, &calls, &faults, &unexpected);

    // Details for investigation, while ontime still runs: each problem timer as stored.
    let mut details = String::new();
    for (title, problems) in [
        ("LOST", &verdict.lost),
        ("FIRED AFTER DELETE", &verdict.after_delete),
        ("UNRECOGNISABLE DUPLICATES", &verdict.unrecognisable),
    ] {
        if problems.is_empty() {
            continue;
        }
        let mut by_status: std::collections::BTreeMap<String, usize> = Default::default();
        let mut lines = String::new();
        for (i, problem) in problems.iter().enumerate() {
            lines.push_str(&format!("- {}\n", problem.what));
            if i < LOOKUPS {
                let (status, stored) = observe::stored_state(&gateways, &problem.id).await;
                *by_status.entry(status).or_default() += 1;
                lines.push_str(&format!("  stored: {stored}\n"));
            }
        }
        let by_status: Vec<String> = by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        details.push_str(&format!(
            "\n{title} ({}; stored status of the first {}: {}):\n{lines}",
            problems.len(),
            problems.len().min(LOOKUPS),
            by_status.join(", ")
        ));
    }
    fleet.shutdown().await;

    let histogram: Vec<String> = check::calls_per_webhook_id(&calls)
        .iter()
        .map(|(calls, ids)| format!("{calls} call(s): {ids}"))
        .collect();
    let mut report = String::new();
    report.push_str(&format!(
        "===== ontime-chaos verdict (seed {seed}, {:?} at {}/s, faults {}) =====\n",
        args.duration,
        args.rate,
        if args.no_faults { "off" } else { "on" }
    ));
    report.push_str(&format!(
        "machine               {load_at_start} at the start, {} at the end (ontime-chaos, 3 nats-servers and 7 ontime processes share it)\n",
        util::machine_load()
    ));
    report.push_str(&verdict.report);
    report.push_str(&format!("calls per webhook-id  {}\n", histogram.join(", ")));
    report.push_str(&format!(
        "waits given up       {}\n",
        observe::given_up(&logs)
            .iter()
            .map(|(what, n)| format!("{what}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    report.push_str("faults:\n");
    for f in &faults {
        report.push_str(&format!(
            "  {} {} ({:.1}s)\n",
            util::stamp(f.start),
            f.label(),
            (f.end - f.start).num_milliseconds() as f64 / 1000.0
        ));
    }
    std::fs::write(dir.join("verdict.txt"), format!("{report}{details}"))?;
    let shown: String = details.lines().take(60).collect::<Vec<_>>().join("\n");
    println!("\n{report}{shown}");
    let nats_kills = faults
        .iter()
        .filter(|f| f.kind == faults::Kind::Kill && f.role == procs::Role::Nats)
        .count();
    let too_few_kills = !args.no_faults && nats_kills < args.min_nats_kills;
    if too_few_kills {
        println!(
            "TOO FEW FAULTS: {nats_kills} nats-server kill(s), fewer than --min-nats-kills {}: run longer or with shorter gaps",
            args.min_nats_kills
        );
    }
    let passed = !verdict.failed() && !too_few_kills;
    if passed {
        println!("PASS: nothing lost, nothing fired after an acknowledged delete");
        if args.keep {
            println!("work dir kept: {}", dir.display());
        } else {
            println!("work dir {} removed (--keep keeps it)", dir.display());
            let _ = std::fs::remove_dir_all(&dir);
        }
    } else {
        println!(
            "FAIL: {} timer(s) with lost occurrences, {} fired after delete, {} with unrecognisable duplicates",
            verdict.lost.len(),
            verdict.after_delete.len(),
            verdict.unrecognisable.len()
        );
        println!(
            "work dir kept: {} (verdict.txt, chaos.log, logs/)",
            dir.display()
        );
    }
    Ok(passed)
}

/// How many problem timers of each kind are looked up in ontime for the details.
const LOOKUPS: usize = 100;
