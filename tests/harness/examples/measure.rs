//! A quick hand measurement (not the benchmark, which is `make bench`): lateness of 1,000
//! timers due within one second, and the create rate through REST, on an in-process ontime.
//! `cargo run --release -p ontime-testkit --example measure`

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use ontime_testkit::{NatsServer, Ontime, Sink};
use serde_json::json;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let n = 1000;
    let start = Utc::now() + chrono::Duration::seconds(4);
    let timers: Vec<_> = (0..n)
        .map(|i| {
            let due = start + chrono::Duration::microseconds(1_000_000 * i / n);
            json!({"id": format!("l{i}"), "schedule": {"at": due}, "target": {"http": {"url": sink.url(&format!("/l/{i}")), "body": {"due": due}}}})
        })
        .collect();
    let r = o
        .http
        .post(o.api("/namespaces/m/timers:batch"))
        .json(&json!({"timers": timers}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    tokio::time::sleep(Duration::from_secs(7)).await;
    let mut late: Vec<f64> = sink
        .all_calls()
        .iter()
        .map(|c| {
            let body: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
            let due: chrono::DateTime<Utc> = body["due"].as_str().unwrap().parse().unwrap();
            (c.at - due).num_microseconds().unwrap() as f64 / 1000.0
        })
        .collect();
    late.sort_by(f64::total_cmp);
    println!(
        "lateness of {} timers due within 1 s (ms): p50 {:.2} p99 {:.2} max {:.2} (received {})",
        n,
        pct(&late, 0.5),
        pct(&late, 0.99),
        late[late.len() - 1],
        late.len()
    );

    let k = 3000;
    let clock = Instant::now();
    let far = Utc::now() + chrono::Duration::hours(1);
    let results: Vec<bool> = futures::stream::iter(0..k)
        .map(|i| {
            let o = &o;
            let url = sink.url("/far");
            async move {
                let body = json!({"schedule": {"at": far}, "target": {"http": {"url": url}}});
                o.http
                    .put(o.api(&format!("/namespaces/m/timers/c{i}")))
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let secs = clock.elapsed().as_secs_f64();
    println!(
        "REST create, one by one, 64 concurrent: {k} in {secs:.2} s = {:.0}/s ({} ok)",
        k as f64 / secs,
        results.iter().filter(|b| **b).count()
    );
}
