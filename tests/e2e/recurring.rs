//! Recurring timers end to end on a real nats-server: cron, ISO 8601 repetitions, intervals,
//! pause/resume/trigger, the callback's stop, and a scheduler killed between occurrences.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use ontime_testkit::{Call, NatsServer, Ontime, Part, Sink, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn send(
    o: &Ontime,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = o.http.request(method, o.api(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn put(o: &Ontime, id: &str, body: Value) -> Value {
    let (code, timer) = send(
        o,
        reqwest::Method::PUT,
        &format!("/namespaces/rec/timers/{id}"),
        Some(body),
    )
    .await;
    assert_eq!(code, 200, "{timer}");
    timer
}

async fn get(o: &Ontime, id: &str) -> Value {
    send(
        o,
        reqwest::Method::GET,
        &format!("/namespaces/rec/timers/{id}"),
        None,
    )
    .await
    .1
}

async fn action(o: &Ontime, id: &str, action: &str) -> (u16, Value) {
    send(
        o,
        reqwest::Method::POST,
        &format!("/namespaces/rec/timers/{id}:{action}"),
        None,
    )
    .await
}

async fn status_becomes(o: &Ontime, id: &str, status: &str) -> Value {
    eventually(WAIT, &format!("{id} to be {status}"), || async {
        let timer = get(o, id).await;
        (timer["status"] == status).then_some(timer)
    })
    .await
}

/// The occurrence number of a call, from its `webhook-id` (`<ns>/<id>/<gen>/<occurrence>`).
fn occurrence(call: &Call) -> u64 {
    call.header("webhook-id")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Calls per occurrence.
fn by_occurrence(calls: &[Call]) -> BTreeMap<u64, usize> {
    let mut out = BTreeMap::new();
    for call in calls {
        *out.entry(occurrence(call)).or_default() += 1;
    }
    out
}

fn target(sink: &Sink, path: &str) -> Value {
    json!({"http": {"url": sink.url(path)}})
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_every_second_fires_once_a_second_and_logs_each_run() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let created = put(
        &o,
        "tick",
        json!({"schedule": {"cron": "*/1 * * * * *"}, "target": target(&sink, "/tick")}),
    )
    .await;
    assert_eq!(created["status"], "scheduled");
    let upcoming: Vec<DateTime<Utc>> = created["upcoming"]
        .as_array()
        .unwrap()
        .iter()
        .map(instant)
        .collect();
    assert_eq!(upcoming.len(), 5);
    for pair in upcoming.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::Duration::seconds(1),
            "{upcoming:?}"
        );
    }
    let calls = sink.wait_for("/tick", 3, WAIT).await;
    let occurrences = by_occurrence(&calls);
    assert_eq!(
        occurrences.keys().take(3).copied().collect::<Vec<_>>(),
        vec![1, 2, 3]
    );

    // Each run is in the log, with due times one second apart on whole seconds.
    let log = eventually(WAIT, "three succeeded runs in the log", || async {
        let (_, page) = send(
            &o,
            reqwest::Method::GET,
            "/namespaces/rec/timers/tick/executions?outcome=succeeded",
            None,
        )
        .await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        (items.len() >= 3).then_some(items)
    })
    .await;
    let mut dues: Vec<DateTime<Utc>> = log.iter().map(|a| instant(&a["due_at"])).collect();
    dues.sort();
    for pair in dues.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::seconds(1));
    }
    assert!(dues.iter().all(|d| d.trunc_subsecs(0) == *d));
    let timer = get(&o, "tick").await;
    assert!(timer["runs"].as_u64().unwrap() >= 3);
    let (code, _) = send(
        &o,
        reqwest::Method::DELETE,
        "/namespaces/rec/timers/tick",
        None,
    )
    .await;
    assert_eq!(code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iso_repetition_of_three_fires_three_times_then_completes() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let start = (Utc::now() + chrono::Duration::seconds(2)).trunc_subsecs(0);
    let iso = format!("R3/{}/PT1S", start.format("%Y-%m-%dT%H:%M:%SZ"));
    let created = put(
        &o,
        "thrice",
        json!({"schedule": {"iso": iso}, "target": target(&sink, "/thrice")}),
    )
    .await;
    assert_eq!(created["upcoming"].as_array().unwrap().len(), 3);
    let done = status_becomes(&o, "thrice", "completed").await;
    assert_eq!(done["runs"], 3);
    assert_eq!(done["successes"], 3);
    assert_eq!(done["next_fire_at"], Value::Null);
    let calls = sink.calls("/thrice");
    assert_eq!(
        by_occurrence(&calls).keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // Nothing after the third.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(by_occurrence(&sink.calls("/thrice")).len(), 3);
    let (code, err) = action(&o, "thrice", "trigger").await;
    assert_eq!((code, err["error"].as_str()), (409, Some("conflict")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_calls_and_resume_restarts_them() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    put(
        &o,
        "p",
        json!({"schedule": {"every": "1s"}, "target": target(&sink, "/p")}),
    )
    .await;
    sink.wait_for("/p", 1, WAIT).await;
    let (code, paused) = action(&o, "p", "pause").await;
    assert_eq!((code, paused["status"].as_str()), (200, Some("paused")));
    assert_eq!(paused["next_fire_at"], Value::Null);
    // A call already in flight when the pause was applied may still land; then nothing.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = sink.calls("/p").len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.calls("/p").len(), before, "no call while paused");
    let (code, again) = action(&o, "p", "pause").await;
    assert_eq!(
        (code, again["status"].as_str()),
        (200, Some("paused")),
        "pausing twice is harmless"
    );

    let (code, resumed) = action(&o, "p", "resume").await;
    assert_eq!(code, 200, "{resumed}");
    assert_ne!(resumed["status"], "paused");
    sink.wait_for("/p", before + 2, WAIT).await;
    let timer = get(&o, "p").await;
    assert_ne!(timer["status"], "paused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_fires_at_once_without_moving_the_schedule() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let created = put(
        &o,
        "hourly",
        json!({"schedule": {"every": "1h", "max_runs": 2}, "target": target(&sink, "/hourly")}),
    )
    .await;
    let (code, triggered) = action(&o, "hourly", "trigger").await;
    assert_eq!(code, 200, "{triggered}");
    let calls = sink.wait_for("/hourly", 1, WAIT).await;
    assert_eq!(occurrence(&calls[0]), 1);
    let timer = eventually(WAIT, "the triggered run to succeed", || async {
        let t = get(&o, "hourly").await;
        (t["successes"] == 1).then_some(t)
    })
    .await;
    assert_eq!(timer["status"], "scheduled");
    assert_eq!(
        (timer["runs"].as_u64(), timer["triggered"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        timer["next_fire_at"], created["next_fire_at"],
        "the schedule did not move"
    );
    assert_eq!(
        timer["upcoming"].as_array().unwrap().len(),
        2,
        "a triggered run does not count towards max_runs"
    );
    let (code, missing) = action(&o, "nope", "trigger").await;
    assert_eq!(code, 404, "{missing}");
    let (code, unknown) = action(&o, "hourly", "explode").await;
    assert_eq!(code, 404, "{unknown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_answering_code_400_stops_the_job() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    sink.script_answer(
        "/stop",
        200,
        r#"{"code": 400, "message": "no more"}"#,
        Duration::ZERO,
    );
    put(
        &o,
        "job",
        json!({"schedule": {"every": "2s"}, "target": target(&sink, "/stop")}),
    )
    .await;
    let done = status_becomes(&o, "job", "completed").await;
    assert_eq!(done["last_result"]["outcome"], "stopped");
    assert!(
        done["last_result"]["error"]
            .as_str()
            .unwrap()
            .contains("no more"),
        "{done}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.calls("/stop").len(), 1, "no call after the stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_can_move_the_next_occurrence() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let moved = (Utc::now() + chrono::Duration::milliseconds(2500)).trunc_subsecs(3);
    let body = json!({"ok": false, "nextExecuteAt": moved}).to_string();
    sink.script_answer("/move", 200, &body, Duration::ZERO);
    put(&o, "mv", json!({"schedule": {"every": "1h", "start_at": Utc::now() + chrono::Duration::milliseconds(500)}, "target": target(&sink, "/move")})).await;
    let calls = sink.wait_for("/move", 2, WAIT).await;
    assert_eq!(occurrence(&calls[1]), 2);
    let timer = get(&o, "mv").await;
    assert_eq!(timer["runs"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lateness_expires_a_call_that_would_be_too_late() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    // Due a minute ago: a one-time timer fires at once, but more than 1 s late.
    let at = Utc::now() - chrono::Duration::seconds(60);
    put(
        &o,
        "late",
        json!({"schedule": {"at": at, "max_lateness": "1s"}, "target": target(&sink, "/late")}),
    )
    .await;
    let done = status_becomes(&o, "late", "failed").await;
    assert_eq!(done["last_result"]["outcome"], "expired");
    assert_eq!(done["expired"], 1);
    assert!(sink.calls("/late").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_killed_between_occurrences_loses_and_duplicates_none() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let mut o = Ontime::start(&nats.url(), 1, 1).await;
    let runs = 6;
    put(
        &o,
        "steady",
        json!({"schedule": {"every": "1s", "max_runs": runs, "misfire": "fire_all"}, "target": target(&sink, "/steady")}),
    )
    .await;
    sink.wait_for("/steady", 1, WAIT).await;
    o.kill(Part::Scheduler);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    o.add(Part::Scheduler).await;
    status_becomes(&o, "steady", "completed").await;
    let calls = sink.calls("/steady");
    let occurrences = by_occurrence(&calls);
    assert_eq!(
        occurrences.keys().copied().collect::<BTreeSet<_>>(),
        (1..=runs).collect::<BTreeSet<_>>(),
        "every occurrence delivered: {occurrences:?}"
    );
    // At least once: a redelivery repeats an occurrence under its own webhook-id, never as
    // another occurrence; here nothing failed, so nothing should repeat at all.
    assert!(occurrences.values().all(|&n| n == 1), "{occurrences:?}");
}

/// Triggers while the timer's own occurrences come and go: each triggered call is made,
/// reported and counted; none stays in flight (an occurrence left in flight would make
/// `overlap: skip` skip every later one for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_of_a_busy_recurring_timer_are_each_called_and_counted() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    put(
        &o,
        "busy",
        json!({"schedule": {"every": "1s", "overlap": "skip"}, "target": target(&sink, "/busy")}),
    )
    .await;
    sink.wait_for("/busy", 1, WAIT).await;
    const TRIGGERS: u64 = 6;
    for _ in 0..TRIGGERS {
        let (code, triggered) = action(&o, "busy", "trigger").await;
        assert_eq!(code, 200, "{triggered}");
        // Spread over the schedule's second, so that some land near its own firing.
        tokio::time::sleep(Duration::from_millis(170)).await;
    }
    let (code, paused) = action(&o, "busy", "pause").await;
    assert_eq!(code, 200, "{paused}");
    let timer = eventually(WAIT, "every run reported", || async {
        let t = get(&o, "busy").await;
        let settled = t["in_flight"].as_array().is_none_or(|f| f.is_empty());
        (settled && t["successes"] == t["runs"]).then_some(t)
    })
    .await;
    assert_eq!(timer["triggered"], TRIGGERS, "{timer}");
    // Every call was a delivery of its own.
    let calls = sink.calls("/busy");
    let ids: BTreeSet<&str> = calls
        .iter()
        .filter_map(|c| c.header("webhook-id"))
        .collect();
    assert_eq!(
        ids.len(),
        calls.len(),
        "a delivery id called twice: {calls:?}"
    );
    assert_eq!(
        calls.len() as u64,
        timer["runs"].as_u64().unwrap(),
        "{timer}"
    );
}

/// W3C trace context: a call carries a `traceparent` in the trace of the request that
/// defined its timer (or triggered it), as a span of its own; a timer defined without one
/// calls without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_carry_the_trace_of_the_request_that_defined_or_triggered_them() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    const DEFINED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const TRIGGERED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let traced = |method: reqwest::Method, path: &str, trace: &str| {
        o.http
            .request(method, o.api(path))
            .header("traceparent", trace)
    };
    let body = json!({"schedule": {"every": "1h", "start_at": Utc::now() + chrono::Duration::milliseconds(300)},
                      "target": target(&sink, "/traced")});
    let r = traced(
        reqwest::Method::PUT,
        "/namespaces/rec/timers/traced",
        DEFINED,
    )
    .json(&body)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let first = sink.wait_for("/traced", 1, WAIT).await;
    let parent = |call: &Call| {
        let header = call
            .header("traceparent")
            .expect("a traceparent")
            .to_owned();
        let parts: Vec<String> = header.split('-').map(str::to_owned).collect();
        assert_eq!(parts.len(), 4, "{header}");
        parts
    };
    let call = parent(&first[0]);
    assert_eq!(
        call[1], "4bf92f3577b34da6a3ce929d0e0e4736",
        "the defining request's trace"
    );
    assert_ne!(call[2], "00f067aa0ba902b7", "a span of its own");
    assert_eq!(call[2].len(), 16);

    let r = traced(
        reqwest::Method::POST,
        "/namespaces/rec/timers/traced:trigger",
        TRIGGERED,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let calls = sink.wait_for("/traced", 2, WAIT).await;
    assert_eq!(
        parent(&calls[1])[1],
        "0af7651916cd43dd8448eb211c80319c",
        "the trigger's trace"
    );

    // Defined without one: its calls carry none.
    put(
        &o,
        "untraced",
        json!({"schedule": {"after": "0s"}, "target": target(&sink, "/untraced")}),
    )
    .await;
    let calls = sink.wait_for("/untraced", 1, WAIT).await;
    assert!(calls[0].header("traceparent").is_none());
}
