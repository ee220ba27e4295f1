//! The scheduler against a real nats-server, without gateway or workers: commands published
//! straight to NATS become fire messages at their due time, once, even with two schedulers.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;
use futures::StreamExt;
use ontime_core::fire::Fire;
use ontime_nats::{Names, Topology, TopologyConfig};
use ontime_scheduler::SchedulerConfig;
use tokio_util::sync::CancellationToken;

async fn topology(url: &str, prefix: &str) -> Topology {
    let client = ontime_nats::connect(url, "test").await.unwrap();
    let config = TopologyConfig {
        names: Names::new(prefix).unwrap(),
        ..Default::default()
    };
    for _ in 0..100 {
        if let Ok(t) = Topology::ensure(client.clone(), config.clone()).await {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no topology");
}

async fn publish_upsert(t: &Topology, id: &str, at: chrono::DateTime<Utc>) {
    let key = ontime_core::TimerKey::new(
        ontime_core::Namespace::parse("ns").unwrap(),
        ontime_core::TimerId::parse(id).unwrap(),
    );
    let body = serde_json::json!({
        "v": 1, "kind": "upsert", "namespace": "ns", "id": id,
        "spec": {"schedule": {"at": at}, "target": {"http": {"url": "http://127.0.0.1:9/"}}}
    });
    t.js.publish(t.names().cmd_subject(&key), body.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn fires(t: &Topology, n: usize, within: Duration) -> Vec<(Fire, chrono::DateTime<Utc>)> {
    let consumer: PullConsumer = t
        .consumer(&t.names().fire_stream(), t.names().fire_consumer())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while out.len() < n {
        let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, messages.next()).await else {
            break;
        };
        out.push((serde_json::from_slice(&msg.payload).unwrap(), Utc::now()));
        msg.ack().await.unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_and_far_timers_fire_once_each_with_two_schedulers() {
    let server = ontime_testkit::NatsServer::start().await;
    let url = server.url();
    let t = topology(&url, "s1").await;
    let shutdown = CancellationToken::new();
    for _ in 0..2 {
        let t = topology(&url, "s1").await;
        tokio::spawn(ontime_scheduler::run(
            t,
            Default::default(),
            shutdown.clone(),
        ));
    }
    let now = Utc::now();
    // Within the lead (straight to the queue) and beyond it (through a scheduled message).
    let due: Vec<_> = (0..20)
        .map(|i| now + chrono::Duration::milliseconds(500 + 200 * i))
        .collect();
    for (i, at) in due.iter().enumerate() {
        publish_upsert(&t, &format!("t{i}"), *at).await;
    }
    let got = fires(&t, 20, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 20, "every timer fires");
    let mut ids: Vec<_> = got.iter().map(|(f, _)| f.id.to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "no timer fires twice");
    // Fires go out `fire_ahead` before their due instant (the worker holds them until it),
    // never earlier.
    let ahead = chrono::Duration::from_std(SchedulerConfig::default().fire_ahead).unwrap();
    for (fire, seen) in &got {
        assert!(
            *seen >= fire.due_at - ahead,
            "{} fired more than fire_ahead before its due time",
            fire.id
        );
    }
    let mut late: Vec<i64> = got
        .iter()
        .map(|(f, seen)| (*seen - f.due_at).num_microseconds().unwrap())
        .collect();
    late.sort();
    eprintln!(
        "lateness µs: min {} p50 {} max {}",
        late[0],
        late[late.len() / 2],
        late[late.len() - 1]
    );
    // Nothing more arrives.
    assert!(fires(&t, 1, Duration::from_secs(3)).await.is_empty());
    shutdown.cancel();
}
