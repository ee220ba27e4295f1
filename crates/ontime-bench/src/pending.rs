//! Scenario 4: many timers pending far in the future. Creates them (commands published
//! straight to NATS, the fast way in), then reads the memory of nats-server and of each ontime
//! process and the disk used; then stops everything and measures how long `ontime dev`, on
//! the same store, takes to be ready and to fire a timer that fell due while it was down.
//! The load runs on nats-server's default fsync policy, to go faster (see `run`).

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::Utc;

use crate::deploy::{KV_STREAM, Ontime, SLOTS_STREAM};
use crate::load::{self, Item};
use crate::procs::{Bins, Proc, Sync, disk_mb, free_port};
use crate::report::Outcome;
use crate::sink::Sink;
use crate::stats::ms_between;
use crate::{Workdir, progress};

#[derive(Debug, Clone)]
pub struct Params {
    pub n: usize,
}

/// How far ahead of the stop the probe timer is due: enough for its wake-up (due − 2 s) to
/// still be a scheduled message in NATS when everything stops.
const PROBE_AHEAD: chrono::TimeDelta = chrono::TimeDelta::seconds(8);

pub async fn run(bins: &Bins, workdir: &Workdir, p: &Params) -> anyhow::Result<Vec<Outcome>> {
    let dir = workdir.dir("pending")?;
    let mut out = Outcome::new("pending", "ontime", p.n);
    // Loaded with nats-server's default (lazy) fsync: the figures measured here (memory, disk,
    // restart) do not depend on it, and it loads several times faster. The restart is
    // `ontime dev` with the shipped config (sync_interval: always).
    let mut ontime = Ontime::start(bins, dir.path(), Sync::Default).await?;
    out.set("sync_interval", Sync::Default.label());
    let sink = Sink::start()?;
    let far = load::whole_second(Utc::now() + chrono::Duration::days(1));
    let items: Vec<Item> = (0..p.n as u64)
        .map(|i| {
            load::item(
                "f",
                i,
                far + chrono::Duration::milliseconds(i as i64),
                &sink.url,
            )
        })
        .collect();

    progress(&format!(
        "pending: creating {} timers due in a day (commands over NATS)",
        p.n
    ));
    let start = Instant::now();
    let created = load::nats_commands(&ontime.js, items, 1, load::ACK_WINDOW).await;
    out.creates_per_sec = Some(created.per_sec());
    ontime
        .wait_applied(Duration::from_secs(120 + p.n as u64 / 200))
        .await?;
    out.set_f(
        "applied_per_sec",
        created.acked.len() as f64 / start.elapsed().as_secs_f64(),
    );
    out.warnings.extend(created.failures("publish(es) failed"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    out.rss_mb = ontime.rss();
    out.set_f("disk_mb", disk_mb(&ontime.store));
    let stored = ontime.stream_messages(KV_STREAM).await?;
    let wakes = ontime.stream_messages(SLOTS_STREAM).await?;
    out.set("timers_stored", stored);
    out.set("wakeups_stored", wakes);
    if (stored as usize) < created.acked.len() {
        out.failures.push(format!(
            "{} creates acknowledged, {stored} timers in the bucket",
            created.acked.len()
        ));
    }
    if (wakes as usize) < created.acked.len() {
        out.warnings.push(format!(
            "{} timers, {wakes} wake-ups in {SLOTS_STREAM}",
            created.acked.len()
        ));
    }
    if p.n > 3 * LIST_LIMIT {
        list_pages(&ontime, &mut out).await;
    }

    // The restart: a probe timer due shortly after everything stops.
    let probe_i = p.n as u64;
    let probe_due = load::whole_second(Utc::now() + PROBE_AHEAD);
    let probe = load::nats_commands(
        &ontime.js,
        vec![load::item("probe", probe_i, probe_due, &sink.url)],
        1,
        1,
    )
    .await;
    if probe.acked.is_empty() {
        bail!(
            "the probe timer was not acknowledged: {:?}",
            probe.first_error
        );
    }
    ontime.wait_applied(Duration::from_secs(30)).await?;
    progress("pending: stopping every process, then restarting with `ontime dev`");
    let store = ontime.store.clone();
    ontime.stop().await;
    let mut restart = Outcome::new("pending", "restart (ontime dev)", p.n);
    if Utc::now() > probe_due - chrono::Duration::milliseconds(2500) {
        restart.warnings.push(
            "stopping took so long that the probe's wake-up may have left NATS before the stop"
                .into(),
        );
    }
    // Restart once the probe is overdue, so that it is the first thing to fire.
    let overdue = (probe_due + chrono::Duration::milliseconds(500) - Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(overdue).await;

    let http_addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(&bins.ontime);
    cmd.arg("dev")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--nats-port", &free_port().to_string()])
        .args(["--http", &http_addr])
        .arg("--nats-server-bin")
        .arg(&bins.nats_server);
    debug_assert_eq!(store, dir.path().join("jetstream"));
    let spawned_at = Utc::now();
    let spawned = Instant::now();
    let mut dev = Proc::spawn("dev", cmd, dir.path().join("dev.log"))?
        .with_pid_file(dir.path().join("nats-server.pid"));
    let http = load::http_client(1);
    let ready_url = format!("http://{http_addr}/ready");
    loop {
        dev.check_alive()?;
        if http
            .get(&ready_url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        if spawned.elapsed() > Duration::from_secs(600) {
            bail!("ontime dev not ready after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    restart.set_f("ready_after_s", spawned.elapsed().as_secs_f64());
    let expected = HashSet::from([probe_i]);
    let arrivals = sink
        .collect(&expected, probe_due, Duration::from_secs(120))
        .await;
    let probe_calls: Vec<_> = arrivals.iter().filter(|a| a.i == probe_i).collect();
    match probe_calls.iter().map(|a| a.at).min() {
        Some(at) => {
            restart.set_f("first_fire_after_s", ms_between(spawned_at, at) / 1000.0);
            restart.set_f("downtime_lateness_ms", ms_between(probe_due, at));
            restart.missing = Some(0);
        }
        None => {
            restart.missing = Some(1);
            restart
                .failures
                .push("the probe timer never fired after the restart (lost)".into());
        }
    }
    restart.duplicates = Some(probe_calls.len().saturating_sub(1));
    let other = arrivals.len() - probe_calls.len();
    if other > 0 {
        restart.warnings.push(format!(
            "{other} far-future timer(s) called after the restart"
        ));
    }
    if let Some(rss) = dev.rss() {
        restart.rss_mb.insert("dev".into(), rss);
    }
    if let Some(rss) = dev.grandchild().and_then(crate::procs::Rss::of) {
        restart.rss_mb.insert("nats-server (dev)".into(), rss);
    }
    dev.shutdown(Duration::from_secs(30)).await;
    Ok(vec![out, restart])
}

/// The page size of the listings (which need more than three pages of timers).
const LIST_LIMIT: usize = 100;

/// Pages of the namespace that holds every pending timer: without a status (the median of
/// three pages, each of which reads only its own timers) and with one (which reads every
/// record of the namespace); then the gateway's memory. A page that is not full, or has no
/// cursor to the next one, is a failure.
async fn list_pages(ontime: &Ontime, out: &mut Outcome) {
    progress("pending: listing pages of their namespace");
    let http = load::http_client(1);
    let base = format!("{}/v1/namespaces/{}/timers", ontime.http, load::NS);
    let mut plain = Vec::new();
    let mut cursor: Option<String> = None;
    for query in ["", "", "", "&status=scheduled"] {
        let mut url = format!("{base}?limit={LIST_LIMIT}{query}");
        if let (Some(c), "") = (&cursor, query) {
            url.push_str(&format!("&cursor={c}"));
        }
        let start = Instant::now();
        let page = match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
            _ => None,
        };
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let items = page
            .as_ref()
            .and_then(|p| p["items"].as_array())
            .map(Vec::len);
        let next = page.as_ref().and_then(|p| p["next_cursor"].as_str());
        if items != Some(LIST_LIMIT) || next.is_none() {
            out.failures.push(format!(
                "listing {url}: {items:?} items, next cursor {next:?}"
            ));
            return;
        }
        if query.is_empty() {
            plain.push(ms);
            cursor = next.map(str::to_owned);
        } else {
            out.set_f("list_status_page_ms", ms);
        }
    }
    plain.sort_by(f64::total_cmp);
    out.set_f("list_page_ms", plain[plain.len() / 2]);
    if let Some(gateway) = ontime.rss().get("gateway") {
        out.set_f("gateway_rss_after_listing_mb", gateway.now_mb);
    }
}
