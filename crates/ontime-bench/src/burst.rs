//! Scenario 3: N timers due at the same instant; how long until every one has been called,
//! and at what rate. The timers are created ahead of time by publishing commands straight to
//! NATS (the fastest way in), and applied before they fall due.

use std::time::Duration;

use chrono::Utc;

use crate::deploy::Ontime;
use crate::load::{self, Item};
use crate::precision::creation_checks;
use crate::procs::{Bins, Sync};
use crate::report::Outcome;
use crate::sink::Sink;
use crate::stats::{self, ms_between};
use crate::{Workdir, progress};

#[derive(Debug, Clone)]
pub struct Params {
    pub n: usize,
    /// Seconds from the start of creation to the due instant (None: from a warm-up).
    pub lead_in: Option<f64>,
    /// Stop waiting for calls when none has come for this long after the due instant, s.
    pub grace: f64,
    /// nats-server's fsync policy.
    pub sync: Sync,
}

pub async fn run(bins: &Bins, workdir: &Workdir, p: &Params) -> anyhow::Result<Outcome> {
    let dir = workdir.dir("burst")?;
    let mut out = Outcome::new("burst", "ontime", p.n);
    let mut ontime = Ontime::start(bins, dir.path(), p.sync).await?;
    let sink = Sink::start()?;
    let mut rate = f64::INFINITY;
    if p.lead_in.is_none() {
        // The rate that matters is the scheduler's: every timer must be applied in time.
        // The warm-up runs cold, so it underestimates: less to spare than in precision.
        let k = load::warm_up_size(p.n);
        progress(&format!("burst: warm-up, {k} timers due in an hour"));
        let started = std::time::Instant::now();
        load::nats_commands(
            &ontime.js,
            load::far_items("w", 1 << 40, k, &sink.url),
            1,
            load::ACK_WINDOW,
        )
        .await;
        ontime.wait_applied(Duration::from_secs(300)).await?;
        rate = k as f64 / started.elapsed().as_secs_f64();
    }
    let due = load::whole_second(Utc::now() + load::lead_in(p.lead_in, p.n, rate, 1.3));
    let items: Vec<Item> = (0..p.n as u64)
        .map(|i| load::item("u", i, due, &sink.url))
        .collect();

    progress(&format!(
        "burst: creating {} timers due at the same instant (commands over NATS)",
        p.n
    ));
    let created = load::nats_commands(&ontime.js, items, 1, load::ACK_WINDOW).await;
    out.creates_per_sec = Some(created.per_sec());
    let wait = (due - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(60);
    ontime.wait_applied(wait).await?;
    creation_checks(&mut out, &created, Utc::now(), due);

    progress("burst: waiting for the calls");
    let arrivals = sink
        .collect(&created.acked, due, Duration::from_secs_f64(p.grace))
        .await;
    out.malformed_calls(sink.malformed());
    out.rss_mb = ontime.rss();
    out.warnings.extend(ontime.exited());
    ontime.stop().await;
    if bins.stages {
        out.set("stages_ms", crate::stages::read(dir.path()));
    }
    let delivery = stats::analyse(&arrivals, &created.acked);
    if let Some(last) = delivery.last_arrival {
        out.set_f("all_delivered_after_s", ms_between(due, last) / 1000.0);
    }
    out.delivery(&delivery);
    Ok(out)
}
