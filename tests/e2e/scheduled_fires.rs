//! Scheduled fires (`SchedulerConfig::scheduled_fires`): a one-time timer due later than the
//! lead is armed as its fire, a scheduled message that nats-server stores on the fire subject
//! shortly before the instant, instead of a wake-up on the timing wheel. On a real nats-server
//! with real HTTP: the calls are made once, at their instant, with no wake-up filed; a paused,
//! deleted or redefined timer is not called with what it was.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use ontime_core::{Namespace, TimerId, TimerKey};
use ontime_testkit::{NatsServer, Ontime, Part, Sink, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn in_ms(ms: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds(ms)
}

fn timer(url: &str, at: DateTime<Utc>) -> Value {
    json!({"schedule": {"at": at}, "target": {"http": {"url": url}}, "retry": {"max_attempts": 1}})
}

/// ontime with one worker and one scheduler storing fires ahead.
async fn start(nats: &NatsServer) -> Ontime {
    let mut o = Ontime::start(&nats.url(), 0, 1).await;
    o.scheduler_config.scheduled_fires = true;
    o.add(Part::Scheduler).await;
    o
}

async fn put(o: &Ontime, id: &str, body: Value) {
    let (status, answer) = o
        .send("PUT", &format!("/namespaces/sf/timers/{id}"), Some(body))
        .await;
    assert!(status < 300, "{status} {answer}");
}

/// Messages per subject of `stream` under `filter`.
async fn subjects(o: &Ontime, stream: String, filter: String) -> HashMap<String, usize> {
    let stream = o.topology.js.get_stream(stream).await.unwrap();
    let mut found = HashMap::new();
    let mut subjects = stream.info_with_subjects(filter).await.unwrap();
    while let Some(entry) = subjects.next().await {
        let (subject, count) = entry.unwrap();
        found.insert(subject, count);
    }
    found
}

async fn scheduled(o: &Ontime) -> HashMap<String, usize> {
    let n = o.names();
    subjects(o, n.fire_stream(), n.fire_scheduled_all()).await
}

async fn status_becomes(o: &Ontime, id: &str, status: &str) -> Value {
    eventually(WAIT, &format!("{id} to be {status}"), || async {
        let (code, timer) = o
            .send("GET", &format!("/namespaces/sf/timers/{id}"), None)
            .await;
        (code == 200 && timer["status"] == status).then_some(timer)
    })
    .await
}

/// Timers created one by one and in a batch are called once each, never before their
/// instant, by fires nats-server stored: no wake-up is filed and the calls stream holds one
/// scheduled fire per timer until they fire. The later timer's scheduled fire was stored
/// before the earlier one's call, so the workers' purge of settled calls, which runs every
/// second, must leave it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_timers_are_called_by_fires_stored_ahead() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = start(&nats).await;
    let late = in_ms(6_500);
    put(&o, "late", timer(&sink.url("/late"), late)).await;
    let soon = in_ms(3_000);
    put(&o, "soon", timer(&sink.url("/soon"), soon)).await;
    let batch_due = in_ms(4_000);
    let batch: Vec<Value> = (0..10)
        .map(|i| {
            let mut t = timer(&sink.url(&format!("/b{i}")), batch_due);
            t["id"] = json!(format!("b{i}"));
            t
        })
        .collect();
    let (status, answer) = o
        .send(
            "POST",
            "/namespaces/sf/timers:batch",
            Some(json!({"timers": batch})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let stored = scheduled(&o).await;
    assert_eq!(stored.len(), 12, "one scheduled fire per timer: {stored:?}");
    assert!(stored.values().all(|n| *n == 1), "{stored:?}");
    let n = o.names();
    let wake_ups = subjects(&o, n.slots_stream(), n.slots_all()).await;
    assert!(wake_ups.is_empty(), "no wake-up is filed: {wake_ups:?}");

    let mut expected = vec![("/soon".to_owned(), soon), ("/late".to_owned(), late)];
    expected.extend((0..10).map(|i| (format!("/b{i}"), batch_due)));
    for (path, due) in expected {
        let calls = sink.wait_for(&path, 1, WAIT).await;
        assert!(calls[0].at >= due, "{path} called before its instant");
    }
    assert_eq!(sink.settled("/late", Duration::from_secs(1), WAIT).await, 1);
    assert_eq!(sink.settled("/soon", Duration::from_secs(1), WAIT).await, 1);
    let done = status_becomes(&o, "late", "succeeded").await;
    assert_eq!(done["attempts"], 1, "{done}");
    eventually(WAIT, "the fired schedules to be gone", || async {
        scheduled(&o).await.is_empty().then_some(())
    })
    .await;
}

/// A paused timer's scheduled fire is dropped (no mark stops it at the worker); a deleted
/// one is not called; a redefined one is called once, with its new definition, at its new
/// instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_timers_are_not_called_by_what_they_were() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = start(&nats).await;
    let due = in_ms(4_000);
    for id in ["paused", "deleted", "moved"] {
        put(&o, id, timer(&sink.url(&format!("/{id}")), due)).await;
    }
    assert_eq!(scheduled(&o).await.len(), 3);

    let (status, answer) = o
        .send("POST", "/namespaces/sf/timers/paused:pause", None)
        .await;
    assert!(status < 300, "{status} {answer}");
    let (status, answer) = o
        .send("DELETE", "/namespaces/sf/timers/deleted", None)
        .await;
    assert!(status < 300, "{status} {answer}");
    let moved_to = in_ms(5_500);
    put(&o, "moved", timer(&sink.url("/moved-new"), moved_to)).await;

    let left = scheduled(&o).await;
    let n = o.names();
    let key =
        |id: &str| TimerKey::new(Namespace::parse("sf").unwrap(), TimerId::parse(id).unwrap());
    assert!(
        !left.contains_key(&n.fire_scheduled_subject(&key("paused"))),
        "the paused timer's fire is dropped: {left:?}"
    );
    assert!(left.contains_key(&n.fire_scheduled_subject(&key("moved"))));

    let calls = sink.wait_for("/moved-new", 1, WAIT).await;
    assert!(calls[0].at >= moved_to, "called before its new instant");
    assert_eq!(
        sink.settled("/moved-new", Duration::from_secs(2), WAIT)
            .await,
        1
    );
    for old in ["/paused", "/deleted", "/moved"] {
        assert!(sink.calls(old).is_empty(), "{old} was called");
    }
    let paused = status_becomes(&o, "paused", "paused").await;
    assert_eq!(paused["attempts"], 0, "{paused}");
}
