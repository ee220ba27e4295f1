//! A callback's answer that stops a recurring timer or moves its next occurrence holds for
//! every occurrence due after it, even one whose fire was already emitted when the answer
//! came: the answer raises the timer's mark, which the worker checks at the due instant.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use ontime_testkit::{NatsServer, Ontime, Part, Sink, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// How long the answering call takes, and how early the schedulers emit a fire: the next
/// occurrence, a second later, has had its fire emitted and its record read by the time the
/// answer arrives (at 650 ms, after the emission at 500 ms), so only the mark can hold it,
/// and the worker has 350 ms to raise the mark before that occurrence's instant.
const SLOW: Duration = Duration::from_millis(650);
const FIRE_AHEAD: Duration = Duration::from_millis(500);

/// A gateway, a worker, and a scheduler that emits fires [`FIRE_AHEAD`] of their instant.
async fn start(nats: &NatsServer) -> Ontime {
    let mut o = Ontime::start(&nats.url(), 0, 1).await;
    o.scheduler_config.fire_ahead = FIRE_AHEAD;
    o.add(Part::Scheduler).await;
    o
}

async fn put(o: &Ontime, id: &str, body: Value) {
    let r = o
        .http
        .put(o.api(&format!("/namespaces/ans/timers/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

async fn status(o: &Ontime, id: &str) -> Value {
    let r = o
        .http
        .get(o.api(&format!("/namespaces/ans/timers/{id}")))
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["status"].clone()
}

fn every_second(sink: &Sink, path: &str) -> Value {
    json!({"schedule": {"cron": "* * * * * *"}, "target": {"http": {"url": sink.url(path)}}})
}

/// A cron firing every second whose callback answers `{"code": 400}` on its second call gets
/// no third call, round after round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_answer_stops_the_next_call_already_under_way() {
    let nats = NatsServer::start().await;
    let o = start(&nats).await;
    let sink = Sink::start().await;
    for round in 0..3 {
        let ids: Vec<String> = (0..4).map(|i| format!("stop-{round}-{i}")).collect();
        for id in &ids {
            let path = format!("/{id}");
            sink.script_answer(&path, 200, r#"{"ok": true}"#, Duration::ZERO);
            sink.script_answer(&path, 200, r#"{"code": 400, "message": "enough"}"#, SLOW);
            put(&o, id, every_second(&sink, &path)).await;
        }
        for id in &ids {
            sink.wait_for(&format!("/{id}"), 2, WAIT).await;
            eventually(WAIT, &format!("{id} to complete"), || async {
                (status(&o, id).await == "completed").then_some(())
            })
            .await;
        }
        // Two more occurrences' worth of time: none may be called.
        tokio::time::sleep(Duration::from_millis(2200)).await;
        for id in &ids {
            let calls = sink.calls(&format!("/{id}"));
            assert_eq!(
                calls.len(),
                2,
                "round {round}: {id} was called after it stopped"
            );
        }
    }
}

/// An answer that moves the next occurrence of a cron firing every second: no call comes
/// between the answer and the instant it named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moving_answer_holds_back_the_next_call_already_under_way() {
    let nats = NatsServer::start().await;
    let o = start(&nats).await;
    let sink = Sink::start().await;
    let ids: Vec<String> = (0..4).map(|i| format!("move-{i}")).collect();
    let moved_to = Utc::now() + chrono::TimeDelta::seconds(6);
    let answer = json!({"ok": false, "nextExecuteAt": moved_to.to_rfc3339_opts(SecondsFormat::Millis, true)});
    for id in &ids {
        let path = format!("/{id}");
        sink.script_answer(&path, 200, r#"{"ok": true}"#, Duration::ZERO);
        sink.script_answer(&path, 200, &answer.to_string(), SLOW);
        put(&o, id, every_second(&sink, &path)).await;
    }
    for id in &ids {
        let calls = sink.wait_for(&format!("/{id}"), 3, WAIT).await;
        assert!(
            calls[2].at >= moved_to,
            "{id}: a call at {} came before the moved occurrence at {moved_to}",
            calls[2].at
        );
    }
}
