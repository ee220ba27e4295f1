//! The scheduler against a real nats-server, without gateway or workers: commands published
//! straight to NATS become fire messages at their due time, once, even with two schedulers.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use ontime_core::command::BatchReply;
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

/// Publishes `batch` on `subject` asking for a reply, and waits for it.
async fn batch_reply(t: &Topology, subject: String, batch: serde_json::Value) -> BatchReply {
    let inbox = t.client.new_inbox();
    let mut replies = t.client.subscribe(inbox.clone()).await.unwrap();
    let mut hdrs = async_nats::HeaderMap::new();
    hdrs.insert(ontime_nats::headers::REPLY_TO, inbox.as_str());
    t.js.publish_with_headers(subject, hdrs, batch.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), replies.next())
        .await
        .expect("a reply in time")
        .unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_applies_each_command_on_its_own_and_replies_once() {
    let server = ontime_testkit::NatsServer::start().await;
    let t = topology(&server.url(), "b1").await;
    let shutdown = CancellationToken::new();
    let scheduler = topology(&server.url(), "b1").await;
    tokio::spawn(ontime_scheduler::run(
        scheduler,
        Default::default(),
        shutdown.clone(),
    ));
    let upsert = |id: &str, at: chrono::DateTime<Utc>| {
        serde_json::json!({"v": 1, "kind": "upsert", "namespace": "ns", "id": id,
            "spec": {"schedule": {"at": at}, "target": {"http": {"url": "http://127.0.0.1:9/"}}}})
    };
    // Due within the lead: its wake-up must still be made durable, since the batch is acked
    // once for all its commands.
    let near = Utc::now() + chrono::Duration::milliseconds(1500);
    let far = Utc::now() + chrono::Duration::hours(1);
    let batch = serde_json::json!({"v": 1, "namespace": "ns", "commands": [
        upsert("near", near),
        upsert("far", far),
        {"v": 1, "kind": "upsert", "namespace": "ns", "id": "bad", "spec": {"schedule": {}, "target": {"http": {"url": "http://127.0.0.1:9/"}}}},
        upsert("near", far),
        {"v": 1, "kind": "delete", "namespace": "ns", "id": "absent"},
    ]});
    let ns = ontime_core::Namespace::parse("ns").unwrap();
    let subject = t.names().cmd_batch_subject(&ns);
    let reply = batch_reply(&t, subject.clone(), batch).await;
    assert_eq!(reply.error, None);
    let results: Vec<(bool, Option<String>, Option<String>)> = reply
        .results
        .iter()
        .map(|r| {
            (
                r.ok,
                r.timer.as_ref().map(|v| v.id.to_string()),
                r.error.as_ref().and_then(|e| e.field.clone()),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            (true, Some("near".into()), None),
            (true, Some("far".into()), None),
            (false, None, Some("commands[2].spec.schedule".into())),
            (false, None, Some("commands[3].id".into())),
            (false, None, None),
        ]
    );
    assert_eq!(
        reply.results[4].error.as_ref().map(|e| e.code),
        Some(ontime_core::ErrorCode::NotFound)
    );

    let got = fires(&t, 1, Duration::from_secs(10)).await;
    let ids: Vec<String> = got.iter().map(|(f, _)| f.id.to_string()).collect();
    assert_eq!(ids, ["near"], "the near timer fires");
    assert!(
        fires(&t, 1, Duration::from_secs(2)).await.is_empty(),
        "once, and the far one waits"
    );
    let far_key =
        ontime_core::TimerKey::new(ns.clone(), ontime_core::TimerId::parse("far").unwrap());
    let slots = t.js.get_stream(t.names().slots_stream()).await.unwrap();
    let filed = slots
        .info_with_subjects(t.names().slots_all())
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let suffix = format!(".{}", far_key.subject_suffix());
    assert!(
        filed.iter().any(|(subject, _)| subject.ends_with(&suffix)),
        "the far timer's wake-up is filed under its second: {filed:?}"
    );
    let mut cmd = t.js.get_stream(t.names().cmd_stream()).await.unwrap();
    assert_eq!(
        cmd.info().await.unwrap().state.messages,
        0,
        "the batch is acked"
    );

    // A batch whose namespace is not its subject's is refused whole.
    let other = serde_json::json!({"v": 1, "namespace": "other", "commands": [upsert("x", far)]});
    let reply = batch_reply(&t, subject, other).await;
    assert!(reply.results.is_empty());
    assert_eq!(
        reply.error.and_then(|e| e.field).as_deref(),
        Some("namespace")
    );
    let x = ontime_core::TimerKey::new(ns, ontime_core::TimerId::parse("x").unwrap());
    assert_eq!(t.timers.get_live(&x).await.unwrap(), None);
    shutdown.cancel();
}
