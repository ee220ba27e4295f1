//! Scenario 1 (and 5): N timers due uniformly over S seconds, all created before the first
//! falls due, delivered to the sink; (a) through ontime end to end (REST batch create →
//! scheduler → worker → HTTP call), (b) through raw JetStream scheduled messages
//! (`Nats-Schedule: @at`) consumed by a minimal async-nats consumer making the same call.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer, stream};
use chrono::{SecondsFormat, Utc};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::deploy::Ontime;
use crate::load::{self, Item};
use crate::procs::{Bins, Nats, Sync};
use crate::report::Outcome;
use crate::sink::Sink;
use crate::{Workdir, fsyncs, stats};

/// ontime's `--lead`: a wake-up moves from NATS into the scheduler's memory this long before
/// its due time. Timers created later than that take the short path.
const LEAD: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

#[derive(Debug, Clone)]
pub struct Params {
    pub n: usize,
    pub seconds: f64,
    /// Seconds from the start of creation to the first due time (None: from a warm-up).
    pub lead_in: Option<f64>,
    /// Stop waiting for calls when none has come for this long after the last due time, s.
    pub grace: f64,
    /// nats-servers: 1, or a cluster of 3 with every stream on all three.
    pub nodes: usize,
}

impl Params {
    fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace)
    }

    /// The result of one variant of this load, with the load's settings.
    fn outcome(&self, sync: Sync, scenario: &str, variant: &str) -> Outcome {
        let mut out = Outcome::new(scenario, variant, self.n);
        out.set("sync_interval", sync.label());
        out.set("seconds", self.seconds);
        out.set_f("offered_per_sec", self.n as f64 / self.seconds);
        out.set("nats_servers", self.nodes);
        out
    }
}

/// Index of the first warm-up timer: far from the measured ones.
const WARM_UP_I: u64 = 1 << 40;

/// Through ontime, on a nats-server with this `sync_interval`.
pub async fn ontime(
    bins: &Bins,
    workdir: &Workdir,
    p: &Params,
    sync: Sync,
    scenario: &str,
    variant: &str,
) -> anyhow::Result<Outcome> {
    let dir = workdir.dir(&format!("{scenario}-{variant}"))?;
    let mut out = p.outcome(sync, scenario, variant);
    let mut ontime = Ontime::start_on(bins, dir.path(), sync, p.nodes, 1).await?;
    let sink = Sink::start()?;
    let http = load::http_client(64);
    let mut rate = f64::INFINITY;
    if p.lead_in.is_none() {
        let k = load::warm_up_size(p.n);
        crate::progress(&format!(
            "{scenario}/{variant}: warm-up, {k} timers due in an hour"
        ));
        let warm = load::far_items("w", WARM_UP_I, k, &sink.url);
        rate = load::rest_batch(&http, &ontime.http, warm, 1000, 2)
            .await
            .per_sec();
    }
    let t0 = load::whole_second(Utc::now() + load::lead_in(p.lead_in, p.n, rate, 2.0));
    let dues = load::uniform(t0, p.n, p.seconds);
    let items: Vec<Item> = (0..p.n)
        .map(|i| load::item("p", i as u64, dues[i], &sink.url))
        .collect();

    crate::progress(&format!(
        "{scenario}/{variant}: creating {} timers through the batch endpoint",
        p.n
    ));
    let counting = fsyncs::start(dir.path(), "create").await;
    let created = load::rest_batch(&http, &ontime.http, items, 1000, 2).await;
    let created_at = Utc::now();
    let create_fsyncs = match counting {
        Some(counting) => counting.stop().await,
        None => None,
    };
    out.creates_per_sec = Some(created.per_sec());
    creation_checks(&mut out, &created, created_at, t0);

    crate::progress(&format!("{scenario}/{variant}: waiting for the calls"));
    let counting = fsyncs::start(dir.path(), "deliver").await;
    let arrivals = sink.collect(&created.acked, dues[p.n - 1], p.grace()).await;
    let deliver_fsyncs = match counting {
        Some(counting) => counting.stop().await,
        None => None,
    };
    out.malformed_calls(sink.malformed());
    out.rss_mb = ontime.rss();
    out.warnings.extend(ontime.exited());
    ontime.stop().await;
    if bins.stages {
        out.set("stages_ms", crate::stages::read(dir.path()));
    }
    let delivery = stats::analyse(&arrivals, &created.acked);
    out.delivery(&delivery);
    per_item(
        &mut out,
        "fsyncs_per_create",
        create_fsyncs,
        created.acked.len(),
    );
    per_item(
        &mut out,
        "fsyncs_per_call",
        deliver_fsyncs,
        delivery.delivered,
    );
    Ok(out)
}

/// Records `total / n` as `key`, when both are known.
pub fn per_item(out: &mut Outcome, key: &str, total: Option<u64>, n: usize) {
    if let Some(total) = total
        && n > 0
    {
        out.set_f(key, total as f64 / n as f64);
    }
}

/// Warns when timers were not all created ahead of time, and records creation errors.
pub fn creation_checks(
    out: &mut Outcome,
    created: &load::Created,
    created_at: chrono::DateTime<Utc>,
    first_due: chrono::DateTime<Utc>,
) {
    let margin_ms = stats::ms_between(created_at, first_due);
    out.set_f("created_ms_before_first_due", margin_ms);
    if created_at > first_due - LEAD {
        out.warnings.push(format!(
            "creation ended {margin_ms:.0} ms before the first due time (under ontime's 2 s lead): the earliest timers skipped the scheduled-message path; raise --lead-in"
        ));
    }
    if let Some(warning) = created.failures("create(s) refused") {
        out.set("create_errors", created.errors);
        out.warnings.push(warning);
    }
}

const RAW_STREAM: &str = "BENCH_RAW";

/// Through raw JetStream scheduled messages and a minimal consumer in this process.
pub async fn raw(
    bins: &Bins,
    workdir: &Workdir,
    p: &Params,
    sync: Sync,
    scenario: &str,
    variant: &str,
) -> anyhow::Result<Outcome> {
    let (n, seconds) = (p.n, p.seconds);
    let run = RawRun {
        scenario,
        variant,
        sync,
        nodes: p.nodes,
        lead_in: p.lead_in,
        grace: p.grace(),
    };
    let (mut out, arrivals, acked) = raw_planned(
        bins,
        workdir,
        &run,
        p.outcome(sync, scenario, variant),
        n,
        |t0| (0..n as u64).zip(load::uniform(t0, n, seconds)).collect(),
    )
    .await?;
    out.delivery(&stats::analyse(&arrivals, &acked));
    Ok(out)
}

/// How a raw baseline runs.
pub struct RawRun<'a> {
    pub scenario: &'a str,
    pub variant: &'a str,
    pub sync: Sync,
    /// nats-servers (see [`Params::nodes`]); the stream has a replica on each.
    pub nodes: usize,
    /// Seconds from the start of publishing to the first due time (None: from a warm-up).
    pub lead_in: Option<f64>,
    /// Stop waiting for calls when none has come for this long after the last due time.
    pub grace: Duration,
}

/// Raw JetStream scheduled messages, `plan(t0)` giving each message's index and due time
/// from the first due time, delivered by a minimal consumer in this process. Returns the
/// outcome so far (creation figures, memory), every call the sink received, and the indices
/// of the messages the server acknowledged.
pub async fn raw_planned(
    bins: &Bins,
    workdir: &Workdir,
    run: &RawRun<'_>,
    mut out: Outcome,
    n: usize,
    plan: impl FnOnce(chrono::DateTime<Utc>) -> Vec<(u64, chrono::DateTime<Utc>)>,
) -> anyhow::Result<(
    Outcome,
    Vec<crate::sink::Arrival>,
    std::collections::HashSet<u64>,
)> {
    let (scenario, variant) = (run.scenario, run.variant);
    let dir = workdir.dir(&format!("{scenario}-raw"))?;
    let store = dir.path().join("jetstream");
    let nats = Nats::start_nodes(bins, dir.path(), &store, run.sync, run.nodes).await?;
    let client = async_nats::connect(nats.client_url()).await?;
    let js = jetstream::new(client);
    let stream = raw_stream(&js, nats.replicas()).await?;
    stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("raw".into()),
            filter_subject: "raw.fire.>".into(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 20_000,
            max_waiting: 4096,
            ..Default::default()
        })
        .await?;
    let sink = Sink::start()?;
    let stop = CancellationToken::new();
    let worker = Consumer::start(nats.client_url(), sink.url.clone(), stop.clone())?;

    let mut rate = f64::INFINITY;
    if run.lead_in.is_none() {
        let far = load::whole_second(Utc::now() + chrono::Duration::hours(1));
        let k = load::warm_up_size(n);
        crate::progress(&format!(
            "{scenario}/{variant}: warm-up, {k} messages scheduled in an hour"
        ));
        let warm = (WARM_UP_I..WARM_UP_I + k as u64).map(|i| (i, far));
        rate = publish_scheduled(&js, warm).await?.per_sec();
    }
    let t0 = load::whole_second(Utc::now() + load::lead_in(run.lead_in, n, rate, 2.0));
    let dues = plan(t0);
    let last_due = dues.iter().map(|(_, d)| *d).max().unwrap_or(t0);
    crate::progress(&format!(
        "{scenario}/{variant}: publishing {} scheduled messages",
        dues.len()
    ));
    let counting = fsyncs::start(dir.path(), "create").await;
    let created = publish_scheduled(&js, dues.into_iter()).await?;
    if let Some(counting) = counting {
        per_item(
            &mut out,
            "fsyncs_per_create",
            counting.stop().await,
            created.acked.len(),
        );
    }
    out.creates_per_sec = Some(created.per_sec());
    creation_checks(&mut out, &created, Utc::now(), t0);

    crate::progress(&format!("{scenario}/{variant}: waiting for the calls"));
    let counting = fsyncs::start(dir.path(), "deliver").await;
    let arrivals = sink.collect(&created.acked, last_due, run.grace).await;
    if let Some(counting) = counting {
        // Per message that reached the sink (each is one call).
        let called: std::collections::HashSet<u64> = arrivals.iter().map(|a| a.i).collect();
        per_item(
            &mut out,
            "fsyncs_per_call",
            counting.stop().await,
            called.len(),
        );
    }
    out.malformed_calls(sink.malformed());
    out.rss_mb.extend(nats.rss());
    if let Some(cpu) = worker.cpu_seconds() {
        out.set_f("consumer_cpu_s", cpu);
    }
    stop.cancel();
    worker.join();
    nats.shutdown(Duration::from_secs(30)).await;
    Ok((out, arrivals, created.acked))
}

/// The raw baseline's stream: scheduled messages on `raw.sched.<i>` (one per subject, as
/// ontime's wake-ups), firing into `raw.fire.<i>`. Its subjects are outside ontime's, so it
/// may share ontime's server.
pub async fn raw_stream(
    js: &jetstream::Context,
    replicas: usize,
) -> anyhow::Result<stream::Stream> {
    js.create_stream(stream::Config {
        name: RAW_STREAM.into(),
        subjects: vec!["raw.sched.>".into(), "raw.fire.>".into()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        allow_message_schedules: true,
        max_messages_per_subject: 1,
        allow_rollup: true,
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .context("creating the raw stream")
}

/// Publishes one scheduled message per `(i, due)` on `raw.sched.<i>`, firing into
/// `raw.fire.<i>` with the body the sink expects; up to `ACK_WINDOW` acknowledgements
/// outstanding.
pub async fn publish_scheduled(
    js: &jetstream::Context,
    dues: impl Iterator<Item = (u64, chrono::DateTime<Utc>)>,
) -> anyhow::Result<load::Created> {
    let started = std::time::Instant::now();
    let mut created = load::Created::default();
    let mut pending = FuturesUnordered::new();
    for (i, due) in dues {
        let mut headers = async_nats::HeaderMap::new();
        let at = due.to_rfc3339_opts(SecondsFormat::Millis, true);
        headers.insert("Nats-Schedule", format!("@at {at}").as_str());
        headers.insert("Nats-Schedule-Target", format!("raw.fire.{i}").as_str());
        let body = serde_json::json!({"due": load::rfc3339(due), "i": i});
        let ack = js
            .publish_with_headers(format!("raw.sched.{i}"), headers, body.to_string().into())
            .await?;
        pending.push(async move { (i, ack.await) });
        while pending.len() >= load::ACK_WINDOW {
            if let Some((i, ack)) = pending.next().await {
                ack?;
                created.acked.insert(i);
            }
        }
    }
    while let Some((i, ack)) = pending.next().await {
        ack?;
        created.acked.insert(i);
    }
    created.elapsed = started.elapsed();
    Ok(created)
}

/// The minimal consumer, with a NATS connection and a runtime of its own, whose threads
/// (and only they) bear its name: so its CPU time is read apart from the sink's and the
/// bench's, and counted beside nats-server's as the baseline's cost per call.
struct Consumer {
    thread: std::thread::JoinHandle<()>,
}

const CONSUMER_THREAD: &str = "raw-consumer";

impl Consumer {
    fn start(nats_url: String, sink_url: String, stop: CancellationToken) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(CONSUMER_THREAD)
            .enable_all()
            .build()?;
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(CONSUMER_THREAD.into())
            .spawn(move || {
                runtime.block_on(async move {
                    let connected = async {
                        let js = jetstream::new(async_nats::connect(&nats_url).await?);
                        let stream = js.get_stream(RAW_STREAM).await?;
                        stream
                            .get_consumer::<consumer::pull::Config>("raw")
                            .await
                            .map_err(|e| anyhow::anyhow!("{e}"))
                    }
                    .await;
                    match connected {
                        Ok(consumer) => {
                            let _ = ready_tx.send(Ok(()));
                            let http = load::http_client(512);
                            if let Err(e) = consume(consumer, http, sink_url, stop).await {
                                crate::progress(&format!("the raw consumer stopped: {e:#}"));
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        ready
            .recv()
            .map_err(|_| anyhow::anyhow!("the raw consumer's thread ended"))??;
        Ok(Self { thread })
    }

    /// CPU time (user + system) its threads have used so far, in seconds.
    fn cpu_seconds(&self) -> Option<f64> {
        let mut total = 0.0;
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comm.trim_end() == CONSUMER_THREAD
                && let Some(cpu) = crate::procs::cpu_of(&path.join("stat"))
            {
                total += cpu;
            }
        }
        Some(total)
    }

    fn join(self) {
        let _ = self.thread.join();
    }
}

/// The minimal consumer: the same pull loop shape as ontime's workers (a permit, then a
/// message, then a task), 512 calls at a time; ack on 2xx, nak otherwise.
async fn consume(
    consumer: consumer::PullConsumer,
    http: reqwest::Client,
    url: String,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let permits = Arc::new(Semaphore::new(512));
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(512)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await?;
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit?,
            _ = stop.cancelled() => return Ok(()),
        };
        let next = tokio::select! {
            next = messages.next() => next,
            _ = stop.cancelled() => return Ok(()),
        };
        match next {
            Some(Ok(message)) => {
                let (http, url) = (http.clone(), url.clone());
                tokio::spawn(async move {
                    let id = message.subject.as_str().rsplit('.').next().unwrap_or("?");
                    let called = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("webhook-id", format!("raw/{id}"))
                        .body(message.payload.clone())
                        .send()
                        .await;
                    let kind = match called {
                        Ok(r) if r.status().is_success() => AckKind::Ack,
                        _ => AckKind::Nak(None),
                    };
                    let _ = message.ack_with(kind).await;
                    drop(permit);
                });
            }
            Some(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            None => return Ok(()),
        }
    }
}
