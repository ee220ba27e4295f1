//! `make bench`: ontime measured against real processes. Every scenario starts its own
//! nats-server and ontime processes (the release build), an in-process HTTP sink that
//! records when each call arrives, and reports lateness (arrival − due), rates, duplicates,
//! missing timers and the memory of every process it started. One JSON line per result as
//! it comes, a table at the end; the exit status is 1 when an invariant broke (a lost timer,
//! a duplicate call not recognisable by its `webhook-id`), 2 when a scenario could not run.
//! See BENCHMARKS.md.

mod burst;
mod create;
mod deploy;
mod fanout;
mod flow;
mod fsyncs;
mod load;
mod pending;
mod precision;
mod procs;
mod report;
mod sink;
mod stages;
mod stats;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::procs::{Bins, Sync};
use crate::report::Outcome;

#[derive(Parser, Debug)]
#[command(
    name = "ontime-bench",
    about = "ontime's benchmarks (see BENCHMARKS.md)"
)]
struct Args {
    /// Scenarios to run, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "precision,create,burst,fanout,pending,durability,flow,cluster"
    )]
    scenarios: Vec<Scenario>,
    /// precision, durability, cluster: timers.
    #[arg(long, default_value_t = 2_000)]
    n: usize,
    /// precision, durability, cluster: seconds over which they fall due.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// precision, durability: timers per second (sets --seconds to n / rate).
    #[arg(long)]
    rate: Option<f64>,
    /// precision, durability, burst: seconds from the start of creation to the first due
    /// time (default: grows with the number of timers).
    #[arg(long)]
    lead_in: Option<f64>,
    /// Stop waiting for calls when none has come for this long after the last due time, s.
    #[arg(long, default_value_t = 15.0)]
    grace: f64,
    /// create: timers created with one PUT each.
    #[arg(long, default_value_t = 1_000)]
    rest_n: usize,
    /// create: PUTs in flight.
    #[arg(long, default_value_t = 64)]
    rest_concurrency: usize,
    /// create: timers created through the batch endpoint (1,000 per request).
    #[arg(long, default_value_t = 2_000)]
    batch_n: usize,
    /// create: batch requests in flight.
    #[arg(long, default_value_t = 2)]
    batch_concurrency: usize,
    /// create: timers created by publishing commands to NATS.
    #[arg(long, default_value_t = 2_000)]
    nats_n: usize,
    /// burst: timers due at the same instant.
    #[arg(long, default_value_t = 5_000)]
    burst_n: usize,
    /// fanout: subscribers of the topic.
    #[arg(long, default_value_t = 100)]
    fanout_subscribers: usize,
    /// fanout: occurrences of the timer, one a second.
    #[arg(long, default_value_t = 10)]
    fanout_occurrences: usize,
    /// flow: timers due at the same instant under the rate limit.
    #[arg(long, default_value_t = 1_500)]
    flow_n: usize,
    /// flow: the namespace's limit, calls a second.
    #[arg(long, default_value_t = 100.0)]
    flow_rate: f64,
    /// flow: worker processes sharing the limit.
    #[arg(long, default_value_t = 2)]
    flow_workers: usize,
    /// pending: timers pending far in the future (1000000 takes about 3 minutes here).
    #[arg(long, default_value_t = 100_000)]
    pending_n: usize,
    /// The ontime binary (default: next to this one, i.e. target/release/ontime).
    #[arg(long)]
    ontime_bin: Option<PathBuf>,
    /// The nats-server binary (default: nats/.install/2.15.1/bin/nats-server).
    #[arg(long, env = "ONTIME_NATS_SERVER_BIN")]
    nats_server_bin: Option<PathBuf>,
    /// nats-server's fsync policy for precision, create and burst (durability runs both;
    /// pending loads with `default` and restarts with the shipped config, `always`).
    #[arg(long, value_enum, default_value = "always")]
    sync: Sync,
    /// Print only the JSON lines (no progress, no table).
    #[arg(long)]
    json_only: bool,
    /// Keep every scenario's directory (stores, configs, logs) instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// precision, burst: report where ontime's lateness comes from (`stages_ms`: when, from
    /// the due instant, each step of a firing happened), from timing events the ontime
    /// processes log. Logging them costs CPU, so the other figures are a little worse.
    #[arg(long)]
    stages: bool,
    /// Run ontime's schedulers with `--scheduled-fires` (one-time timers fired by a scheduled
    /// message each instead of the timing wheel); ontime's rows are labelled so.
    #[arg(long)]
    scheduled_fires: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Precision,
    Create,
    Burst,
    Fanout,
    Pending,
    Durability,
    Flow,
    /// Scenario 1 on a cluster of three nats-servers, every stream with three replicas.
    Cluster,
}

/// Where scenarios keep their stores and logs: temporary directories, kept with `--keep`.
pub struct Workdir {
    keep: bool,
}

impl Workdir {
    pub fn dir(&self, name: &str) -> anyhow::Result<tempfile::TempDir> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("ontime-bench-{name}-"))
            .disable_cleanup(self.keep)
            .tempdir()?;
        if self.keep {
            progress(&format!("{name}: keeping {}", dir.path().display()));
        } else {
            DIRS.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(dir.path().to_owned());
        }
        Ok(dir)
    }
}

/// The scenario directories to delete if the bench is interrupted (no destructor runs then).
static DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

static QUIET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// A progress note on stderr (silenced by --json-only).
pub fn progress(message: &str) {
    if !QUIET.get().copied().unwrap_or(false) {
        eprintln!("[{}] {message}", chrono::Utc::now().format("%H:%M:%S"));
    }
}

/// On SIGINT or SIGTERM, stops every process the bench started (no nats-server is left
/// running) and exits.
async fn stop_children_on_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    eprintln!("ontime-bench: interrupted; stopping the processes it started");
    let _ = tokio::task::spawn_blocking(procs::stop_all).await;
    for dir in DIRS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(130);
}

/// Scenario 1 with this `sync_interval`: through ontime, then through raw JetStream; the
/// ontime row gets the ratio of the two p99s.
async fn precision_pair(
    bins: &Bins,
    workdir: &Workdir,
    p: &precision::Params,
    sync: Sync,
    scenario: &str,
    suffix: &str,
) -> (anyhow::Result<Outcome>, anyhow::Result<Outcome>) {
    let label = if bins.scheduled_fires {
        format!("ontime scheduled-fires{suffix}")
    } else {
        format!("ontime{suffix}")
    };
    let mut ontime = precision::ontime(bins, workdir, p, sync, scenario, &label).await;
    let mut raw = precision::raw(
        bins,
        workdir,
        p,
        sync,
        scenario,
        &format!("raw-jetstream{suffix}"),
    )
    .await;
    if let (Ok(o), Ok(r)) = (&mut ontime, &raw) {
        if let (Some(a), Some(b)) = (o.lateness_ms, r.lateness_ms) {
            o.set_f("p99_ratio_to_raw", a.p99 / b.p99);
        }
        for key in ["fsyncs_per_call", "fsyncs_per_create"] {
            let figure = |out: &Outcome| out.extra.get(key).and_then(serde_json::Value::as_f64);
            if let (Some(a), Some(b)) = (figure(o), figure(r))
                && b > 0.0
            {
                o.set_f(&format!("{key}_ratio_to_raw"), a / b);
            }
        }
    }
    cpu_per_call(&mut ontime, &mut raw);
    (ontime, raw)
}

/// CPU per delivered call, in ms: every process of ontime's, or nats-server and the minimal
/// consumer of raw JetStream's (creation included on both sides); and their ratio on ontime's
/// row.
fn cpu_per_call(ontime: &mut anyhow::Result<Outcome>, raw: &mut anyhow::Result<Outcome>) {
    let per_call = |out: &mut Outcome| {
        let delivered = out.delivered.filter(|&d| d > 0)? as f64;
        let processes: f64 = out.rss_mb.values().map(|r| r.cpu_s).sum();
        let consumer = out
            .extra
            .get("consumer_cpu_s")
            .and_then(serde_json::Value::as_f64);
        let ms = (processes + consumer.unwrap_or(0.0)) * 1000.0 / delivered;
        (!ms.is_nan()).then(|| {
            out.set_f("cpu_ms_per_call", ms);
            ms
        })
    };
    let a = ontime.as_mut().ok().and_then(per_call);
    let b = raw.as_mut().ok().and_then(per_call);
    if let (Ok(o), Some(a), Some(b)) = (ontime, a, b)
        && b > 0.0
    {
        o.set_f("cpu_per_call_ratio_to_raw", a / b);
    }
}

/// What `sync_interval: always` costs against the default, on the `always` row.
fn durability_ratios(always: &mut Outcome, lazy: &Outcome) {
    if let (Some(a), Some(l)) = (always.lateness_ms, lazy.lateness_ms) {
        always.set_f("p99_ratio_to_sync_default", a.p99 / l.p99);
    }
    if let (Some(a), Some(l)) = (always.creates_per_sec, lazy.creates_per_sec) {
        always.set_f("create_rate_ratio_to_sync_default", a / l);
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let _ = QUIET.set(args.json_only);
    tokio::spawn(stop_children_on_signal());
    let code = match run(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ontime-bench: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

async fn run(args: &Args) -> anyhow::Result<i32> {
    let mut bins = Bins::locate(args.ontime_bin.clone(), args.nats_server_bin.clone())?;
    bins.stages = args.stages;
    bins.scheduled_fires = args.scheduled_fires;
    progress(&format!(
        "ontime: {}, nats-server: {}",
        bins.ontime.display(),
        bins.nats_server.display()
    ));
    let workdir = Workdir { keep: args.keep };
    let precision = precision::Params {
        n: args.n,
        seconds: args.rate.map_or(args.seconds, |r| args.n as f64 / r),
        lead_in: args.lead_in,
        grace: args.grace,
        nodes: 1,
    };
    anyhow::ensure!(
        precision.n > 0 && precision.seconds > 0.0,
        "--n and --seconds must be positive"
    );

    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut errors = 0;
    let mut emit = |outcomes: &mut Vec<Outcome>,
                    result: anyhow::Result<Vec<Outcome>>,
                    what: &str| {
        match result {
            Ok(results) => {
                for o in results {
                    println!("{}", o.json_line());
                    outcomes.push(o);
                }
            }
            Err(e) => {
                errors += 1;
                eprintln!("ontime-bench: {what} failed: {e:#}");
            }
        }
    };
    for scenario in &args.scenarios {
        match scenario {
            Scenario::Precision => {
                let (ontime, raw) =
                    precision_pair(&bins, &workdir, &precision, args.sync, "precision", "").await;
                emit(&mut outcomes, ontime.map(|o| vec![o]), "precision (ontime)");
                emit(
                    &mut outcomes,
                    raw.map(|o| vec![o]),
                    "precision (raw JetStream)",
                );
            }
            Scenario::Cluster => {
                let p = precision::Params {
                    nodes: 3,
                    ..precision.clone()
                };
                let (ontime, raw) =
                    precision_pair(&bins, &workdir, &p, args.sync, "cluster", "").await;
                emit(&mut outcomes, ontime.map(|o| vec![o]), "cluster (ontime)");
                emit(
                    &mut outcomes,
                    raw.map(|o| vec![o]),
                    "cluster (raw JetStream)",
                );
            }
            Scenario::Create => {
                let p = create::Params {
                    rest_n: args.rest_n,
                    rest_concurrency: args.rest_concurrency,
                    batch_n: args.batch_n,
                    batch_concurrency: args.batch_concurrency,
                    nats_n: args.nats_n,
                    sync: args.sync,
                };
                emit(
                    &mut outcomes,
                    create::run(&bins, &workdir, &p).await,
                    "create",
                );
            }
            Scenario::Burst => {
                let p = burst::Params {
                    n: args.burst_n,
                    lead_in: args.lead_in,
                    grace: args.grace,
                    sync: args.sync,
                };
                let result = burst::run(&bins, &workdir, &p).await;
                emit(&mut outcomes, result.map(|o| vec![o]), "burst");
            }
            Scenario::Fanout => {
                let p = fanout::Params {
                    subscribers: args.fanout_subscribers,
                    occurrences: args.fanout_occurrences,
                    period: 1,
                    grace: args.grace,
                    sync: args.sync,
                };
                emit(
                    &mut outcomes,
                    fanout::run(&bins, &workdir, &p).await,
                    "fanout",
                );
            }
            Scenario::Flow => {
                let p = flow::Params {
                    n: args.flow_n,
                    rate: args.flow_rate,
                    workers: args.flow_workers,
                    grace: args.grace,
                    sync: args.sync,
                };
                let result = flow::run(&bins, &workdir, &p).await;
                emit(&mut outcomes, result.map(|o| vec![o]), "flow");
            }
            Scenario::Pending => {
                let p = pending::Params { n: args.pending_n };
                emit(
                    &mut outcomes,
                    pending::run(&bins, &workdir, &p).await,
                    "pending",
                );
            }
            Scenario::Durability => {
                let mut rows = Vec::new();
                for sync in [Sync::Always, Sync::Default] {
                    let suffix = format!(", sync {}", sync.label());
                    // The precision scenario's rows, if it ran with this policy.
                    let reused: Vec<Outcome> = outcomes
                        .iter()
                        .filter(|o| {
                            o.scenario == "precision"
                                && o.extra.get("sync_interval") == Some(&sync.label().into())
                        })
                        .map(|o| {
                            let mut o = o.clone();
                            o.scenario = "durability".into();
                            o.variant.push_str(&suffix);
                            o.extra.remove("p99_ratio_to_raw");
                            o
                        })
                        .collect();
                    if reused.len() == 2 {
                        rows.extend(reused.into_iter().map(Ok));
                    } else {
                        let (ontime, raw) = precision_pair(
                            &bins,
                            &workdir,
                            &precision,
                            sync,
                            "durability",
                            &suffix,
                        )
                        .await;
                        rows.extend([ontime, raw]);
                    }
                }
                if let [
                    Ok(ontime_always),
                    Ok(raw_always),
                    Ok(ontime_lazy),
                    Ok(raw_lazy),
                ] = &mut rows[..]
                {
                    durability_ratios(ontime_always, ontime_lazy);
                    durability_ratios(raw_always, raw_lazy);
                }
                for row in rows {
                    emit(&mut outcomes, row.map(|o| vec![o]), "durability");
                }
            }
        }
    }

    if !args.json_only {
        println!("\n{}", report::table(&outcomes));
        for o in &outcomes {
            for w in &o.warnings {
                println!("warning: {}/{}: {w}", o.scenario, o.variant);
            }
            for f in &o.failures {
                println!("FAILED: {}/{}: {f}", o.scenario, o.variant);
            }
        }
    }
    let failures: usize = outcomes.iter().map(|o| o.failures.len()).sum();
    Ok(if failures > 0 {
        1
    } else if errors > 0 {
        2
    } else {
        0
    })
}
