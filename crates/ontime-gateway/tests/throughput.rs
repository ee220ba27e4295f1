//! How many creates per second one batch request carries. Ignored by default: run it with
//! `cargo test -p ontime-gateway --release --test throughput -- --ignored --nocapture`.

mod support;

use std::time::{Duration, Instant};

use ontime_gateway::GatewayConfig;
use serde_json::{Value, json};
use support::{Gateway, Nats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check; run it in release"]
async fn batch_creates_per_second() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, GatewayConfig { reply_timeout: Duration::from_secs(10), ..GatewayConfig::default() }).await;
    let _replier = gw.instant_replier().await;
    let batches = 20;
    let started = Instant::now();
    for b in 0..batches {
        let items: Vec<Value> = (0..1000)
            .map(|i| json!({"id": format!("t{b}-{i}"), "schedule": {"after": "1h"}, "target": {"http": {"url": "http://sink.test/hook"}}}))
            .collect();
        let r = gw.http.post(gw.url("/v1/namespaces/perf/timers:batch")).json(&json!({"timers": items})).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let doc: Value = r.json().await.unwrap();
        assert!(doc["results"].as_array().unwrap().iter().all(|r| r["status"] == 201), "not all applied");
    }
    let rate = f64::from(batches * 1000) / started.elapsed().as_secs_f64();
    println!("{rate:.0} creates/s through one connection, one batch at a time");
}
