//! Scenario 2: how fast timers can be created, through REST one by one (with concurrency),
//! through the batch endpoint, and through commands published straight to NATS; then, as the
//! baseline, raw JetStream scheduled messages published to the same nats-server the same way
//! the bench publishes commands. The timers are due in an hour, so nothing fires while this
//! runs.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::deploy::{KV_STREAM, Ontime, SLOTS_STREAM};
use crate::load::{self, Created};
use crate::precision;
use crate::procs::{Bins, Sync};
use crate::report::Outcome;
use crate::stats::Percentiles;
use crate::{Workdir, progress};

#[derive(Debug, Clone)]
pub struct Params {
    pub rest_n: usize,
    pub rest_concurrency: usize,
    pub batch_n: usize,
    pub batch_concurrency: usize,
    pub nats_n: usize,
    /// nats-server's fsync policy.
    pub sync: Sync,
}

pub async fn run(bins: &Bins, workdir: &Workdir, p: &Params) -> anyhow::Result<Vec<Outcome>> {
    let dir = workdir.dir("create")?;
    let mut ontime = Ontime::start(bins, dir.path(), p.sync).await?;
    let items = |prefix: &str, n: usize| load::far_items(prefix, 0, n, "http://127.0.0.1:9/never");
    let mut outcomes = Vec::new();

    progress(&format!(
        "create/rest: {} PUTs, {} at a time",
        p.rest_n, p.rest_concurrency
    ));
    let http = load::http_client(p.rest_concurrency);
    let created = load::rest_one_by_one(
        &http,
        &ontime.http,
        items("r", p.rest_n),
        p.rest_concurrency,
    )
    .await;
    let mut out = outcome("rest", p.rest_n, &created, &ontime);
    out.set("concurrency", p.rest_concurrency);
    outcomes.push(out);
    let mut total = created.acked.len();

    progress(&format!(
        "create/batch: {} timers, 1,000 per request, {} requests at a time",
        p.batch_n, p.batch_concurrency
    ));
    let created = load::rest_batch(
        &http,
        &ontime.http,
        items("b", p.batch_n),
        1000,
        p.batch_concurrency,
    )
    .await;
    let mut out = outcome("batch", p.batch_n, &created, &ontime);
    out.set("concurrency", p.batch_concurrency);
    out.set("batch_size", 1000);
    outcomes.push(out);
    total += created.acked.len();

    for (variant, prefix, per_message) in [("nats", "n", 1), ("nats_batch", "nb", 1000)] {
        progress(&format!(
            "create/{variant}: {} commands published with JetStream, {per_message} per message",
            p.nats_n
        ));
        let start = Instant::now();
        let created = load::nats_commands(
            &ontime.js,
            items(prefix, p.nats_n),
            per_message,
            load::ACK_WINDOW,
        )
        .await;
        ontime.wait_applied(Duration::from_secs(600)).await?;
        let applied = start.elapsed();
        let mut out = outcome(variant, p.nats_n, &created, &ontime);
        out.set("per_message", per_message);
        out.set_f(
            "applied_per_sec",
            created.acked.len() as f64 / applied.as_secs_f64(),
        );
        total += created.acked.len();
        outcomes.push(out);
    }
    let out = outcomes.last_mut().expect("the NATS variants ran");

    // Every acknowledged create must be in the timers bucket, with a wake-up each.
    let stored = ontime.stream_messages(KV_STREAM).await?;
    let wakes = ontime.stream_messages(SLOTS_STREAM).await?;
    out.set("timers_stored", stored);
    out.set("wakeups_stored", wakes);
    if (stored as usize) < total {
        out.failures.push(format!(
            "{total} creates acknowledged, {stored} timers in the bucket"
        ));
    }
    if (wakes as usize) < total {
        out.warnings.push(format!(
            "{total} timers, {wakes} wake-ups in {SLOTS_STREAM}"
        ));
    }

    let raw_n = p.batch_n.max(p.nats_n);
    if raw_n > 0 {
        match raw(&ontime, raw_n).await {
            Ok(raw) => {
                if let Some(baseline) = raw.creates_per_sec.filter(|r| *r > 0.0) {
                    for out in &mut outcomes {
                        if let Some(rate) = out.creates_per_sec {
                            out.set_f("creates_ratio_to_raw", rate / baseline);
                        }
                        if let Some(applied) =
                            out.extra.get("applied_per_sec").and_then(|v| v.as_f64())
                        {
                            out.set_f("applied_ratio_to_raw", applied / baseline);
                        }
                    }
                }
                outcomes.push(raw);
            }
            // ontime's rows stand without their baseline; the last one says why.
            Err(e) => {
                if let Some(last) = outcomes.last_mut() {
                    last.warnings.push(format!(
                        "the raw JetStream baseline failed, no ratios: {e:#}"
                    ));
                }
            }
        }
    }
    ontime.stop().await;
    Ok(outcomes)
}

/// The baseline: `n` scheduled messages (one subject each, due in an hour) published to
/// ontime's nats-server with `ACK_WINDOW` acks outstanding, as the nats variants publish
/// their commands. Storing one such message is the least a durable create costs there:
/// ontime stores the command, the record and the wake-up.
async fn raw(ontime: &Ontime, n: usize) -> anyhow::Result<Outcome> {
    progress(&format!(
        "create/raw-jetstream: {n} scheduled messages published to the same nats-server"
    ));
    precision::raw_stream(&ontime.js, 1).await?;
    let far = load::whole_second(Utc::now() + chrono::Duration::hours(1));
    let created = precision::publish_scheduled(&ontime.js, (0..n as u64).map(|i| (i, far))).await?;
    Ok(outcome("raw-jetstream", n, &created, ontime))
}

fn outcome(variant: &str, n: usize, created: &Created, ontime: &Ontime) -> Outcome {
    let mut out = Outcome::new("create", variant, n);
    out.creates_per_sec = Some(created.per_sec());
    out.set("acked", created.acked.len());
    out.set_f("elapsed_s", created.elapsed.as_secs_f64());
    if let Some(p) = Percentiles::of(created.latencies_ms.clone()) {
        out.set(
            "request_latency_ms",
            serde_json::to_value(p).expect("serialisable"),
        );
    }
    if let Some(warning) = created.failures("create(s) refused") {
        out.set("errors", created.errors);
        out.warnings.push(warning);
    }
    out.rss_mb = ontime.rss();
    out
}
