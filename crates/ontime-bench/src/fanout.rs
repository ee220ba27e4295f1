//! Scenario 6, fan-out: one recurring timer whose target is a topic of K subscribers (each
//! an URL of the sink), R occurrences a period apart. How late each subscriber's call
//! arrives, and how long after its due time every subscriber of an occurrence has been
//! called. Side by side, the same calls made the plainest way NATS offers: K scheduled
//! messages per instant on the same server, consumed by a minimal consumer.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::deploy::Ontime;
use crate::load;
use crate::precision::{RawRun, raw_planned};
use crate::procs::{Bins, Sync};
use crate::report::Outcome;
use crate::sink::{Arrival, Sink};
use crate::stats::{self, Percentiles, ms_between};
use crate::{Workdir, progress};

#[derive(Debug, Clone)]
pub struct Params {
    pub subscribers: usize,
    pub occurrences: usize,
    /// Seconds between occurrences.
    pub period: u64,
    /// Stop waiting for calls when none has come for this long after the last due time, s.
    pub grace: f64,
    pub sync: Sync,
}

impl Params {
    fn outcome(&self, variant: &str) -> Outcome {
        let mut out = Outcome::new("fanout", variant, self.subscribers * self.occurrences);
        out.set("sync_interval", self.sync.label());
        out.set("subscribers", self.subscribers);
        out.set("occurrences", self.occurrences);
        out.set("period_s", self.period);
        out
    }

    fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace)
    }
}

/// Both variants; the ontime row gets the ratios of its figures to the raw ones.
pub async fn run(bins: &Bins, workdir: &Workdir, p: &Params) -> anyhow::Result<Vec<Outcome>> {
    let mut ontime = through_ontime(bins, workdir, p).await?;
    let raw = raw(bins, workdir, p).await?;
    for key in [
        "all_subscribers_after_ms_p50",
        "all_subscribers_after_ms_max",
    ] {
        if let (Some(a), Some(b)) = (number(&ontime, key), number(&raw, key)) {
            ontime.set_f(&format!("{key}_ratio_to_raw"), a / b);
        }
    }
    if let (Some(a), Some(b)) = (ontime.lateness_ms, raw.lateness_ms) {
        ontime.set_f("p99_ratio_to_raw", a.p99 / b.p99);
    }
    Ok(vec![ontime, raw])
}

fn number(out: &Outcome, key: &str) -> Option<f64> {
    out.extra.get(key).and_then(Value::as_f64)
}

async fn through_ontime(bins: &Bins, workdir: &Workdir, p: &Params) -> anyhow::Result<Outcome> {
    let dir = workdir.dir("fanout")?;
    let k = p.subscribers;
    let mut out = p.outcome(&format!("ontime, one timer, a topic of {k}"));
    let mut ontime = Ontime::start(bins, dir.path(), p.sync).await?;
    let sink = Sink::start()?;
    let http = load::http_client(16);
    let topics = format!("{}/v1/namespaces/bench/topics/t", ontime.http);
    put(&http, &topics, json!({})).await?;
    progress(&format!("fanout: subscribing {k} URLs"));
    for s in 0..k {
        put(
            &http,
            &format!("{topics}/subscribers/s{s}"),
            json!({"target": {"http": {"url": sink.url}}}),
        )
        .await?;
    }
    let start = load::whole_second(Utc::now() + chrono::Duration::seconds(3));
    // Every call carries the same body; the sink reads its `due` and `i`, and the occurrence
    // and subscriber come from the `webhook-id`.
    let timer = put(
        &http,
        &format!("{}/v1/namespaces/bench/timers/fan", ontime.http),
        json!({
            "schedule": {"every": format!("{}s", p.period), "start_at": start,
                         "max_runs": p.occurrences},
            "target": {"topic": {"name": "t", "body": {"due": load::rfc3339(start), "i": 0}}},
        }),
    )
    .await?;
    let first: DateTime<Utc> = timer["next_fire_at"]
        .as_str()
        .context("the timer has no next occurrence")?
        .parse()?;
    out.set_f("created_ms_before_first_due", ms_between(Utc::now(), first));
    let due_of =
        |occurrence: u64| first + chrono::Duration::seconds((p.period * (occurrence - 1)) as i64);
    let last_due = due_of(p.occurrences as u64);
    progress("fanout: waiting for the calls");
    let n = k * p.occurrences;
    let arrivals = sink
        .collect_until(n, last_due, p.grace(), |arrivals| {
            let distinct: HashSet<&str> = arrivals.iter().map(|a| a.webhook_id.as_str()).collect();
            distinct.len() >= n
        })
        .await;
    out.malformed_calls(sink.malformed());
    out.rss_mb = ontime.rss();
    out.warnings.extend(ontime.exited());
    ontime.stop().await;
    let calls: Vec<Arrival> = arrivals
        .into_iter()
        .filter_map(|a| {
            let (occurrence, subscriber) = delivery_of(&a.webhook_id)?;
            Some(Arrival {
                i: (occurrence - 1) * k as u64 + subscriber,
                due: due_of(occurrence),
                ..a
            })
        })
        .collect();
    report(&mut out, &calls, k, p.occurrences);
    Ok(out)
}

async fn raw(bins: &Bins, workdir: &Workdir, p: &Params) -> anyhow::Result<Outcome> {
    let k = p.subscribers;
    let run = RawRun {
        scenario: "fanout",
        variant: "raw-jetstream",
        sync: p.sync,
        nodes: 1,
        lead_in: Some(3.0),
        grace: p.grace(),
    };
    let out = p.outcome(&format!("raw JetStream, {k} scheduled messages an instant"));
    let (occurrences, period) = (p.occurrences as u64, p.period as i64);
    let (mut out, calls, _) = raw_planned(bins, workdir, &run, out, k * p.occurrences, |t0| {
        (0..occurrences)
            .flat_map(|o| {
                (0..k as u64).map(move |s| {
                    (
                        o * k as u64 + s,
                        t0 + chrono::Duration::seconds(period * o as i64),
                    )
                })
            })
            .collect()
    })
    .await?;
    report(&mut out, &calls, k, p.occurrences);
    Ok(out)
}

/// Lateness of every call, and how long after each occurrence's due time its last
/// subscriber was called.
fn report(out: &mut Outcome, calls: &[Arrival], k: usize, occurrences: usize) {
    let expected: HashSet<u64> = (0..(k * occurrences) as u64).collect();
    let delivery = stats::analyse(calls, &expected);
    out.delivery(&delivery);
    let mut last: BTreeMap<u64, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for call in calls.iter().filter(|c| expected.contains(&c.i)) {
        let entry = last.entry(call.i / k as u64).or_insert((call.due, call.at));
        entry.1 = entry.1.max(call.at);
    }
    let all = Percentiles::of(
        last.values()
            .map(|(due, at)| ms_between(*due, *at))
            .collect(),
    );
    if let Some(all) = all {
        out.set_f("all_subscribers_after_ms_p50", all.p50);
        out.set_f("all_subscribers_after_ms_max", all.max);
    }
}

/// The occurrence and subscriber index of a topic delivery's id,
/// `bench/fan/<generation>/<occurrence>/s<subscriber>`.
fn delivery_of(webhook_id: &str) -> Option<(u64, u64)> {
    let mut parts = webhook_id.rsplit('/');
    let subscriber = parts.next()?.strip_prefix('s')?.parse().ok()?;
    let occurrence = parts.next()?.parse().ok()?;
    Some((occurrence, subscriber))
}

async fn put(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Value> {
    let r = http.put(url).json(&body).send().await?;
    let status = r.status();
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("PUT {url}: {status} {answer}");
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_delivery_id_names_its_occurrence_and_subscriber() {
        assert_eq!(super::delivery_of("bench/fan/12/3/s41"), Some((3, 41)));
        assert_eq!(super::delivery_of("bench/fan/12/3"), None);
    }
}
