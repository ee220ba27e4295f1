//! Bounds end to end, on a real nats-server: instants past 9999 and intervals under the floor
//! are refused where they enter (never a panic), a callback cannot make a timer fire faster
//! than the floor, a command that bypasses the gateway is refused by the scheduler, and the
//! smaller promises (DELETE twice, credentials hidden, dot names, a pause mid-call).

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use ontime_testkit::{NatsServer, Ontime, Sink, eventually};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn send(o: &Ontime, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = o.http.request(method, o.api(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn timer(schedule: Value, url: &str) -> Value {
    json!({"schedule": schedule, "target": {"http": {"url": url}}})
}

#[tokio::test]
async fn instants_past_9999_and_intervals_under_the_floor_are_refused_where_they_enter() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 0).await;
    let (code, body) = send(
        &o,
        Method::GET,
        "/schedules:preview?after=100000000000h",
        None,
    )
    .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (422, Some("invalid_field")),
        "{body}"
    );
    let url = "http://127.0.0.1:9/x";
    for (schedule, field) in [
        (json!({"after": "100000000000h"}), "schedule.after"),
        (json!({"every": "1000000000h"}), "schedule.every"),
        (json!({"every": "1ns"}), "schedule.every"),
        (json!({"every": "999ms"}), "schedule.every"),
        (json!({"at": "+10000-01-01T00:00:00Z"}), "schedule.at"),
        (
            json!({"iso": "R/2026-12-01T00:00:00Z/PT0.5S"}),
            "schedule.iso",
        ),
    ] {
        let (code, body) = send(
            &o,
            Method::PUT,
            "/namespaces/lim/timers/t",
            Some(timer(schedule.clone(), url)),
        )
        .await;
        assert_eq!(code, 422, "{schedule}: {body}");
        assert!(
            body["field"].as_str().is_some_and(|f| f.starts_with(field)),
            "{schedule}: {body}"
        );
    }
    let (code, body) = send(&o, Method::GET, "/namespaces/lim/timers/t", None).await;
    assert_eq!(code, 404, "nothing was created: {body}");
    // At the floor itself, accepted; every instant answered is RFC 3339 (four-digit years).
    let (code, body) = send(
        &o,
        Method::PUT,
        "/namespaces/lim/timers/t",
        Some(timer(
            json!({"every": "1s", "start_at": "9999-12-31T23:59:58Z"}),
            url,
        )),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let next = body["next_fire_at"].as_str().unwrap();
    assert!(next.starts_with("9999-12-31T23:59:5"), "{body}");
}

/// A command published straight to NATS skips the gateway's validation: the scheduler
/// refuses it with the same error, and the consumer goes on applying others.
#[tokio::test]
async fn the_scheduler_refuses_what_the_gateway_would_and_goes_on() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 0).await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let ns = ontime_core::Namespace::parse("lim").unwrap();
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.unwrap();
    let command = |id: &str, after: &str| {
        json!({"v": 1, "kind": "upsert", "namespace": "lim", "id": id,
               "spec": timer(json!({"after": after}), "http://127.0.0.1:9/x")})
        .to_string()
    };
    // Far more poison batches than the batch consumer has pending slots.
    for n in 0..80 {
        let body =
            ontime_core::command::Batch::encode(&ns, &[command(&format!("p{n}"), "100000000000h")]);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Ontime-Reply-To", inbox.as_str());
        js.publish_with_headers(o.names().cmd_batch_subject(&ns), headers, Bytes::from(body))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    for _ in 0..80 {
        let reply = tokio::time::timeout(WAIT, replies.next())
            .await
            .unwrap()
            .unwrap();
        let reply: Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(
            reply["results"][0]["error"]["error"], "invalid_field",
            "{reply}"
        );
    }
    // A good batch after them is applied.
    let body = ontime_core::command::Batch::encode(&ns, &[command("good", "1h")]);
    js.publish(o.names().cmd_batch_subject(&ns), Bytes::from(body))
        .await
        .unwrap()
        .await
        .unwrap();
    eventually(WAIT, "the good batch to be applied", || async {
        let (code, _) = send(&o, Method::GET, "/namespaces/lim/timers/good", None).await;
        (code == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_callback_cannot_make_a_timer_fire_faster_than_the_floor() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    // The callback asks again and again for an instant in the past.
    for _ in 0..3 {
        sink.script_answer(
            "/loop",
            200,
            r#"{"ok": false, "nextExecuteAt": "2000-01-01T00:00:00Z"}"#,
            Duration::ZERO,
        );
    }
    let (code, body) = send(
        &o,
        Method::PUT,
        "/namespaces/lim/timers/loop",
        Some(timer(json!({"after": "0s"}), &sink.url("/loop"))),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let calls = sink.wait_for("/loop", 4, WAIT).await;
    for pair in calls.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= chrono::TimeDelta::milliseconds(950),
            "calls {} ms apart, under the 1 s floor",
            gap.num_milliseconds()
        );
    }
}

#[tokio::test]
async fn delete_twice_credentials_hidden_and_dot_names_refused() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 0).await;
    let url = "https://user:s3cret@example.test/hook";
    let (code, created) = send(
        &o,
        Method::PUT,
        "/namespaces/lim/timers/d",
        Some(timer(json!({"after": "1h"}), url)),
    )
    .await;
    assert_eq!(code, 200);
    let (_, shown) = send(&o, Method::GET, "/namespaces/lim/timers/d", None).await;
    for view in [&created, &shown] {
        let text = view.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            view["target"]["http"]["url"]
                .as_str()
                .unwrap()
                .contains("***@example.test"),
            "{view}"
        );
    }
    let (code, first) = send(&o, Method::DELETE, "/namespaces/lim/timers/d", None).await;
    assert_eq!((code, first["status"].as_str()), (200, Some("cancelled")));
    let (code, second) = send(&o, Method::DELETE, "/namespaces/lim/timers/d", None).await;
    assert_eq!(
        (code, second["status"].as_str()),
        (200, Some("cancelled")),
        "{second}"
    );
    let (code, _) = send(&o, Method::DELETE, "/namespaces/lim/timers/never-was", None).await;
    assert_eq!(code, 404);

    // Sent as written: an HTTP client library would resolve the dot segments itself.
    for path in [
        "/v1/namespaces/%2E/timers/x",
        "/v1/namespaces/lim/timers/%2E%2E",
        "/v1/namespaces/lim/timers/..",
        "/v1/namespaces/lim/timers/%2E",
    ] {
        let body =
            r#"{"schedule": {"after": "1h"}, "target": {"http": {"url": "http://127.0.0.1:9/"}}}"#;
        assert_eq!(raw_put(&o.url, path, body).await, 422, "{path}");
    }
}

/// The status of a PUT of `body` to `path` exactly as written, over a plain TCP connection.
async fn raw_put(base: &str, path: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "PUT {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// An occurrence in flight when its timer is paused finishes and is logged once, with its
/// real outcome.
#[tokio::test]
async fn a_call_in_flight_when_paused_is_logged_once() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    sink.script_answer("/slow", 200, r#"{"ok": true}"#, Duration::from_millis(1500));
    let (code, _) = send(&o, Method::PUT, "/namespaces/lim/timers/slow", Some(timer(json!({"every": "1h", "start_at": chrono::Utc::now() + chrono::TimeDelta::milliseconds(300)}), &sink.url("/slow")))).await;
    assert_eq!(code, 200);
    sink.wait_for("/slow", 1, WAIT).await;
    let (code, paused) = send(&o, Method::POST, "/namespaces/lim/timers/slow:pause", None).await;
    assert_eq!(code, 200, "{paused}");
    let log = eventually(WAIT, "the call to be logged", || async {
        let (_, page) = send(
            &o,
            Method::GET,
            "/namespaces/lim/timers/slow/executions",
            None,
        )
        .await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        (!items.is_empty()).then_some(items)
    })
    .await;
    // Resumed, the occurrence that was in flight is not taken for one missed while paused.
    let (code, resumed) = send(&o, Method::POST, "/namespaces/lim/timers/slow:resume", None).await;
    assert_eq!(code, 200, "{resumed}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, page) = send(
        &o,
        Method::GET,
        "/namespaces/lim/timers/slow/executions",
        None,
    )
    .await;
    let items = page["items"].as_array().cloned().unwrap_or(log);
    let outcomes: Vec<&str> = items.iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["succeeded"], "{page}");
}
