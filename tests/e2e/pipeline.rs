//! The pipeline end to end: REST or NATS → scheduler → worker → HTTP sink, on a real
//! nats-server, with real HTTP.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontime_testkit::{NatsServer, Ontime, Part, Sink, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn in_ms(ms: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds(ms)
}

async fn put(o: &Ontime, id: &str, body: Value) -> (u16, Value) {
    let r = o
        .http
        .put(o.api(&format!("/namespaces/e2e/timers/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn patch(o: &Ontime, id: &str, body: Value) -> (u16, Value) {
    let r = o
        .http
        .patch(o.api(&format!("/namespaces/e2e/timers/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn delete(o: &Ontime, id: &str) -> (u16, Value) {
    let r = o
        .http
        .delete(o.api(&format!("/namespaces/e2e/timers/{id}")))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(o: &Ontime, path: &str) -> (u16, Value) {
    let r = o.http.get(o.api(path)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Waits until the timer reaches `status`.
async fn status_becomes(o: &Ontime, id: &str, status: &str) -> Value {
    eventually(WAIT, &format!("{id} to be {status}"), || async {
        let (code, timer) = get(o, &format!("/namespaces/e2e/timers/{id}")).await;
        (code == 200 && timer["status"] == status).then_some(timer)
    })
    .await
}

/// The outcomes of a page of the execution log, in its order.
fn outcomes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect()
}

fn timer(url: &str, at: DateTime<Utc>) -> Value {
    json!({"schedule": {"at": at}, "target": {"http": {"url": url}}, "retry": {"initial_interval": "100ms"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_create_calls_the_target_once_with_what_was_asked() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let due = in_ms(800);
    let (code, created) = put(
        &o,
        "welcome.mail",
        json!({
            "schedule": {"at": due},
            "target": {"http": {
                "url": sink.url("/hook?x=1"), "method": "PUT",
                "headers": {"x-team": "growth"}, "body": {"user": 42}
            }}
        }),
    )
    .await;
    assert_eq!(code, 200, "{created}");
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["id"], "welcome.mail");
    assert!(created["revision"].as_u64().unwrap() > 0);

    let calls = sink.wait_for("/hook", 1, WAIT).await;
    let call = &calls[0];
    assert_eq!(call.method, "PUT");
    assert_eq!(call.query.as_deref(), Some("x=1"));
    assert_eq!(call.header("x-team"), Some("growth"));
    assert_eq!(call.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&call.body).unwrap(),
        json!({"user": 42})
    );
    assert_eq!(call.header("ontime-attempt"), Some("1"));
    assert!(
        call.header("webhook-id")
            .unwrap()
            .starts_with("e2e/welcome.mail/")
    );
    assert!(
        call.header("webhook-timestamp")
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    assert!(call.at >= due, "called before its due time");

    let done = status_becomes(&o, "welcome.mail", "succeeded").await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["last_result"]["status_code"], 200);
    // Give a duplicate every chance to show up, then check there was none.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.calls("/hook").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_published_straight_to_nats_is_delivered() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let command = json!({
        "v": 1, "kind": "upsert", "namespace": "e2e", "id": "from-nats",
        "spec": {"schedule": {"after": "300ms"}, "target": {"http": {
            "url": sink.url("/raw"), "body_base64": "aGVsbG8=", "content_type": "text/plain"
        }}}
    });
    let key = ontime_core::TimerKey::from_subject_suffix("e2e.from-nats").unwrap();
    let ack = o
        .topology
        .js
        .publish(o.names().cmd_subject(&key), command.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(!ack.duplicate);
    let calls = sink.wait_for("/raw", 1, WAIT).await;
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].header("content-type"), Some("text/plain"));
    assert_eq!(&calls[0].body[..], b"hello");
    status_becomes(&o, "from-nats", "succeeded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_moves_the_due_time_and_delete_cancels() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    // Far enough to be armed in NATS, then moved near.
    let (code, _) = put(&o, "moved", timer(&sink.url("/moved"), in_ms(3_600_000))).await;
    assert_eq!(code, 200);
    let new_due = in_ms(1_000);
    let (code, _) = patch(&o, "moved", json!({"schedule": {"at": new_due}})).await;
    assert_eq!(code, 200);
    let calls = sink.wait_for("/moved", 1, WAIT).await;
    assert!(calls[0].at >= new_due);

    // Deleted before it is due: never called.
    let (code, _) = put(&o, "deleted", timer(&sink.url("/deleted"), in_ms(2_500))).await;
    assert_eq!(code, 200);
    let (code, gone) = delete(&o, "deleted").await;
    assert_eq!(code, 200);
    assert_eq!(gone["status"], "cancelled");
    // A control timer due after the deleted one proves enough time has passed.
    put(&o, "control", timer(&sink.url("/control"), in_ms(3_500))).await;
    sink.wait_for("/control", 1, WAIT).await;
    assert!(
        sink.calls("/deleted").is_empty(),
        "a deleted timer was called"
    );
}

/// The worker reads the record when the fire arrives, `fire_ahead` before the instant. A
/// delete, or a new definition, acknowledged after that read and before the instant must
/// still win: the worker checks the timer's mark at the instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_or_an_update_after_the_workers_read_is_honoured_at_the_instant() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let mut o = Ontime::start(&nats.url(), 0, 0).await;
    // Fires leave the scheduler 900 ms early, so the worker has read the record long before
    // the commands below are applied.
    o.scheduler_config.fire_ahead = Duration::from_millis(900);
    o.add(Part::Scheduler).await;
    o.add(Part::Worker).await;
    let due = in_ms(3_000);
    let (code, _) = put(&o, "deleted", timer(&sink.url("/deleted"), due)).await;
    assert_eq!(code, 200);
    let (code, _) = put(&o, "changed", timer(&sink.url("/old"), due)).await;
    assert_eq!(code, 200);

    // 600 ms before the instant: both fires have been with the worker for about 300 ms.
    tokio::time::sleep((due - in_ms(600)).to_std().unwrap_or_default()).await;
    assert_eq!(delete(&o, "deleted").await.0, 200);
    let new_target = json!({"target": {"http": {"url": sink.url("/new")}}});
    assert_eq!(patch(&o, "changed", new_target).await.0, 200);
    assert!(
        Utc::now() < due,
        "the commands were answered after the due instant: this run proves nothing"
    );

    // The new definition is called (at once: its occurrence is due), the old ones never.
    sink.wait_for("/new", 1, WAIT).await;
    put(&o, "control", timer(&sink.url("/control"), in_ms(1_000))).await;
    sink.wait_for("/control", 1, WAIT).await;
    assert!(
        sink.calls("/deleted").is_empty(),
        "a deleted timer was called"
    );
    assert!(
        sink.calls("/old").is_empty(),
        "a timer was called with the definition an acknowledged update replaced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_policy() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;

    sink.script("/flaky", &[500, 500, 200]);
    put(&o, "flaky", timer(&sink.url("/flaky"), in_ms(200))).await;
    let done = status_becomes(&o, "flaky", "succeeded").await;
    assert_eq!(done["attempts"], 3);
    let calls = sink.calls("/flaky");
    assert_eq!(calls.len(), 3);
    let ids: Vec<_> = calls
        .iter()
        .map(|c| c.header("webhook-id").unwrap().to_owned())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "webhook-id must be stable across retries: {ids:?}"
    );
    let attempts: Vec<_> = calls
        .iter()
        .map(|c| c.header("ontime-attempt").unwrap().to_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    let log = eventually(WAIT, "three log entries", || async {
        let (_, page) = get(&o, "/namespaces/e2e/timers/flaky/executions").await;
        (page["items"].as_array().map_or(0, Vec::len) == 3).then_some(page)
    })
    .await;
    assert_eq!(
        outcomes(&log),
        ["succeeded", "retrying", "retrying"],
        "newest first"
    );
    assert_eq!(log["items"][2]["status_code"], 500);
    assert!(log["items"][0]["latency_ms"].is_u64());

    sink.script("/missing", &[404]);
    put(&o, "missing", timer(&sink.url("/missing"), in_ms(200))).await;
    let failed = status_becomes(&o, "missing", "failed").await;
    assert_eq!(failed["attempts"], 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.calls("/missing").len(), 1, "a 4xx is final");

    sink.script_answer("/slow", 200, "{}", Duration::from_secs(3));
    let mut slow = timer(&sink.url("/slow"), in_ms(200));
    slow["target"]["http"]["timeout"] = json!("300ms");
    put(&o, "slow", slow).await;
    let retried = sink.wait_for("/slow", 2, WAIT).await;
    assert_eq!(
        retried[1].header("ontime-attempt"),
        Some("2"),
        "a timeout is retried"
    );
    status_becomes(&o, "slow", "succeeded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_is_handed_to_the_scheduler_and_made() {
    // A retry waiting longer than the worker keeps (`nak_max_delay`) goes back to the
    // scheduler through the attempt's log entry (`Ontime-Report: rearm`), which holds it as a
    // durable wake-up and fires it when due.
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let mut o = Ontime::start(&nats.url(), 1, 0).await;
    o.worker_config.nak_max_delay = Duration::from_millis(100);
    o.add(Part::Worker).await;

    sink.script("/held", &[500, 200]);
    let mut body = timer(&sink.url("/held"), in_ms(200));
    body["retry"]["initial_interval"] = json!("700ms");
    put(&o, "held", body).await;
    let done = status_becomes(&o, "held", "succeeded").await;
    assert_eq!(done["attempts"], 2);
    let calls = sink.calls("/held");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].header("ontime-attempt"), Some("2"));
    assert_eq!(
        calls[0].header("webhook-id"),
        calls[1].header("webhook-id"),
        "one occurrence"
    );
    assert!(
        calls[1].at - calls[0].at >= chrono::Duration::milliseconds(700),
        "the retry waited its interval"
    );
    let (_, log) = get(&o, "/namespaces/e2e/timers/held/executions").await;
    assert_eq!(outcomes(&log), ["succeeded", "retrying"], "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_can_reschedule_the_timer() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let again = in_ms(1_500);
    sink.script_answer(
        "/again",
        200,
        &json!({"ok": false, "nextExecuteAt": again}).to_string(),
        Duration::ZERO,
    );
    put(&o, "again", timer(&sink.url("/again"), in_ms(200))).await;
    let calls = sink.wait_for("/again", 2, WAIT).await;
    assert!(calls[1].at >= again);
    assert_ne!(
        calls[0].header("webhook-id"),
        calls[1].header("webhook-id"),
        "a new occurrence has a new delivery id"
    );
    let done = status_becomes(&o, "again", "succeeded").await;
    assert_eq!(done["runs"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_and_two_workers_deliver_each_timer_once() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 2, 2).await;
    let n = 60;
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let mut t = timer(&sink.url(&format!("/many/{i}")), in_ms(300 + 60 * i));
            t["id"] = json!(format!("many-{i}"));
            t
        })
        .collect();
    let r = o
        .http
        .post(o.api("/namespaces/e2e/timers:batch"))
        .json(&json!({"timers": items}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let results: Value = r.json().await.unwrap();
    assert!(
        results["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"].as_u64().unwrap() < 300),
        "{results}"
    );
    eventually(WAIT, "every timer called", || async {
        (sink.all_calls().len() >= n as usize).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..n {
        assert_eq!(sink.calls(&format!("/many/{i}")).len(), 1, "timer {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_schedulers_and_workers_loses_no_acknowledged_timer() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let mut o = Ontime::start(&nats.url(), 1, 1).await;
    let n = 40;
    for i in 0..n {
        // Some due within the lead (held in memory), some beyond it (held by NATS).
        let (code, _) = put(
            &o,
            &format!("k{i}"),
            timer(&sink.url(&format!("/k/{i}")), in_ms(500 + 100 * i)),
        )
        .await;
        assert_eq!(code, 200);
    }
    o.kill(Part::Scheduler);
    o.kill(Part::Worker);
    tokio::time::sleep(Duration::from_millis(800)).await;
    o.add(Part::Scheduler).await;
    o.add(Part::Worker).await;
    // Held messages come back after the schedulers' ack wait (10 s).
    for i in 0..n {
        sink.wait_for(&format!("/k/{i}"), 1, Duration::from_secs(60))
            .await;
    }
    for i in 0..n {
        let calls = sink.calls(&format!("/k/{i}"));
        let ids: std::collections::HashSet<_> = calls
            .iter()
            .map(|c| c.header("webhook-id").unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "duplicates of k{i} must share one webhook-id");
    }
}

/// A call made is not made again because its report could not be stored at once: the worker
/// keeps trying the report (its log entry) while the log refuses every entry, and the fire
/// is settled once it is stored. Handed back at the first refusal, the fire was delivered
/// again half a second later and the target called a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_report_is_refused_for_a_while_is_not_made_again() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    sink.script_answer("/once", 200, "{}", Duration::from_secs(1));
    put(&o, "once", timer(&sink.url("/once"), in_ms(300))).await;
    sink.wait_for("/once", 1, WAIT).await;

    // While the call waits for its answer, the log stream takes no entry (none is 1 byte).
    let js = &o.topology.js;
    let mut log = js.get_stream(o.names().log_stream()).await.unwrap();
    let config = log.info().await.unwrap().config.clone();
    let refusing = async_nats::jetstream::stream::Config {
        max_message_size: 1,
        ..config.clone()
    };
    js.update_stream(refusing).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    js.update_stream(config).await.unwrap();

    let done = status_becomes(&o, "once", "succeeded").await;
    assert_eq!(done["attempts"], 1, "{done}");
    assert_eq!(
        sink.settled("/once", Duration::from_secs(2), WAIT).await,
        1,
        "the target was called again"
    );
}
