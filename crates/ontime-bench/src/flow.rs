//! Scenario `flow`: a rate limit shared by two workers. N timers fall due at the same instant
//! in a namespace limited to `rate` calls a second; the calls must come at that rate, every
//! one of them, however the two workers share them. Fails outside ±5 % of the limit.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use crate::deploy::Ontime;
use crate::load::{self, Item, NS};
use crate::procs::{Bins, Sync};
use crate::report::Outcome;
use crate::sink::Sink;
use crate::stats::{self, ms_between};
use crate::{Workdir, progress};

#[derive(Debug, Clone)]
pub struct Params {
    pub n: usize,
    /// The namespace's limit, calls a second.
    pub rate: f64,
    pub workers: usize,
    pub grace: f64,
    pub sync: Sync,
}

/// How far the measured rate may be from the limit.
const TOLERANCE: f64 = 0.05;

pub async fn run(bins: &Bins, workdir: &Workdir, p: &Params) -> anyhow::Result<Outcome> {
    let dir = workdir.dir("flow")?;
    let variant = format!("ontime, {} workers, limit {}/s", p.workers, p.rate);
    let mut out = Outcome::new("flow", &variant, p.n);
    let mut ontime = Ontime::start_with_workers(bins, dir.path(), p.sync, p.workers).await?;
    let sink = Sink::start()?;
    let limit = reqwest::Client::new()
        .put(format!("{}/v1/namespaces/{NS}/limits", ontime.http))
        .json(&json!({"rate": p.rate}))
        .send()
        .await?;
    anyhow::ensure!(
        limit.status().is_success(),
        "setting the limit: {}",
        limit.status()
    );

    let due = load::whole_second(Utc::now() + chrono::Duration::seconds(3));
    let items: Vec<Item> = (0..p.n as u64)
        .map(|i| load::item("f", i, due, &sink.url))
        .collect();
    progress(&format!(
        "flow: {} timers due at the same instant, limited to {}/s across {} workers",
        p.n, p.rate, p.workers
    ));
    let created = load::nats_commands(&ontime.js, items, 1, load::ACK_WINDOW).await;
    ontime.wait_applied(Duration::from_secs(60)).await?;
    let expected_s = p.n as f64 / p.rate;
    let arrivals = sink
        .collect(
            &created.acked,
            due,
            Duration::from_secs_f64(p.grace + expected_s),
        )
        .await;
    out.rss_mb = ontime.rss();
    out.warnings.extend(ontime.exited());
    ontime.stop().await;

    let delivery = stats::analyse(&arrivals, &created.acked);
    out.delivery(&delivery);
    let mut times: Vec<_> = arrivals.iter().map(|a| a.at).collect();
    times.sort();
    if let (Some(first), Some(last)) = (times.first(), times.last())
        && times.len() > 1
    {
        let span_s = ms_between(*first, *last) / 1000.0;
        let measured = (times.len() - 1) as f64 / span_s;
        out.set_f("limit_per_sec", p.rate);
        out.set_f("measured_per_sec", measured);
        out.set_f("ratio_to_limit", measured / p.rate);
        out.set("busiest_second", busiest_second(&times));
        if (measured / p.rate - 1.0).abs() > TOLERANCE {
            out.failures.push(format!(
                "{measured:.1} calls/s under a limit of {}/s (more than ±{:.0} %)",
                p.rate,
                TOLERANCE * 100.0
            ));
        }
    }
    Ok(out)
}

/// The most calls within any one second.
fn busiest_second(sorted: &[chrono::DateTime<Utc>]) -> usize {
    let second = chrono::Duration::seconds(1);
    let mut most = 0;
    let mut start = 0;
    for (end, t) in sorted.iter().enumerate() {
        while *t - sorted[start] >= second {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}
