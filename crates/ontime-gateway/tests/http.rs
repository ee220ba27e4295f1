//! The gateway over HTTP, on a real nats-server. No scheduler runs unless a test plays one,
//! so these tests cover what the gateway alone decides: refusals (and that nothing is
//! published for them), reads, the 202 after the reply timeout, reply routing, idempotency,
//! and 503 once NATS is gone.

mod support;

use std::time::{Duration, Instant};

use ontime_gateway::GatewayConfig;
use ontime_nats::headers;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Gateway, Nats};

fn quick() -> GatewayConfig {
    GatewayConfig {
        reply_timeout: Duration::from_millis(200),
        ack_timeout: Duration::from_secs(1),
        ..GatewayConfig::default()
    }
}

fn timer() -> Value {
    json!({"schedule": {"after": "1h"}, "target": {"http": {"url": "http://sink.test/hook"}}})
}

fn with(path: &str, value: Value) -> String {
    let mut doc = timer();
    let mut cursor = &mut doc;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cursor = &mut cursor[*p];
    }
    cursor[parts[parts.len() - 1]] = value;
    doc.to_string()
}

/// method, path, headers, body → status, error code, field.
type Case<'a> = (
    &'a str,
    &'a str,
    Vec<(&'a str, &'a str)>,
    String,
    u16,
    &'a str,
    Option<&'a str>,
);

async fn send(
    gw: &Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = gw
        .http
        .request(method.parse::<Method>().unwrap(), gw.url(path))
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_their_status_code_and_field_and_publish_nothing() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    let t = "/v1/namespaces/ns/timers";
    let too_many = json!({"timers": vec![timer(); 1001]}).to_string();
    let long_id = format!("{t}/{}", "x".repeat(256));
    let long_ns = format!("/v1/namespaces/{}/timers/a", "n".repeat(65));
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], "{not json".into(), 400, "invalid_json", None),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], "[1]".into(), 400, "invalid_json", None),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], "".into(), 400, "invalid_json", None),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], with("target.http.url", json!("ftp://x")), 422, "invalid_field", Some("target.http.url")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], with("schedule", json!({"at": "tomorrow"})), 422, "invalid_field", Some("schedule.at")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], with("schedule", json!({})), 422, "invalid_field", Some("schedule")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], with("retry.max_attempts", json!(0)), 422, "invalid_field", Some("retry.max_attempts")),
        ("PUT", &long_id, vec![], timer().to_string(), 422, "invalid_field", Some("id")),
        ("PUT", "/v1/namespaces/ns/timers/a%20b", vec![], timer().to_string(), 422, "invalid_field", Some("id")),
        ("PUT", "/v1/namespaces/ns/timers/a%FFb", vec![], timer().to_string(), 422, "invalid_field", Some("id")),
        ("PUT", &long_ns, vec![], timer().to_string(), 422, "invalid_field", Some("namespace")),
        ("PUT", "/v1/namespaces/a@b/timers/a", vec![], timer().to_string(), 422, "invalid_field", Some("namespace")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![("if-match", "abc")], timer().to_string(), 422, "invalid_field", Some("If-Match")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![("idempotency-key", "a b")], timer().to_string(), 422, "invalid_field", Some("Idempotency-Key")),
        ("POST", t, vec![], with("id", json!(7)), 422, "invalid_field", Some("id")),
        ("POST", t, vec![], with("id", json!("a:b")), 422, "invalid_field", Some("id")),
        ("POST", t, vec![], with("target.http.method", json!("BREW")), 422, "invalid_field", Some("target.http.method")),
        ("PATCH", "/v1/namespaces/ns/timers/a", vec![], json!({"status": "paused"}).to_string(), 422, "invalid_field", Some("status")),
        ("PATCH", "/v1/namespaces/ns/timers/a", vec![], json!({"schedule": {"at": "x"}}).to_string(), 422, "invalid_field", Some("schedule.at")),
        ("PATCH", "/v1/namespaces/ns/timers/a", vec![], "[]".into(), 400, "invalid_json", None),
        ("PATCH", "/v1/namespaces/ns/timers/a", vec![("if-match", "W/\"1\"")], json!({"retry": {}}).to_string(), 422, "invalid_field", Some("If-Match")),
        ("DELETE", "/v1/namespaces/ns/timers/a", vec![("if-match", "x")], "".into(), 422, "invalid_field", Some("If-Match")),
        ("POST", "/v1/namespaces/ns/timers:batch", vec![], json!({"timers": []}).to_string(), 422, "invalid_field", Some("timers")),
        ("POST", "/v1/namespaces/ns/timers:batch", vec![], too_many, 422, "invalid_field", Some("timers")),
        ("POST", "/v1/namespaces/ns/timers:batch", vec![], "[]".into(), 400, "invalid_json", None),
        ("GET", "/v1/namespaces/ns/timers?status=sleeping", vec![], "".into(), 422, "invalid_field", Some("status")),
        ("GET", "/v1/namespaces/ns/timers?limit=0", vec![], "".into(), 422, "invalid_field", Some("limit")),
        ("GET", "/v1/namespaces/ns/timers?limit=1001", vec![], "".into(), 422, "invalid_field", Some("limit")),
        ("GET", "/v1/namespaces/ns/timers?stauts=failed", vec![], "".into(), 422, "invalid_field", Some("stauts")),
        ("GET", "/v1/namespaces/ns/timers/a/executions?cursor=abc", vec![], "".into(), 422, "invalid_field", Some("cursor")),
        ("GET", "/v1/namespaces/ns/timers/a/executions?outcome=maybe", vec![], "".into(), 422, "invalid_field", Some("outcome")),
        ("GET", "/v2/nothing", vec![], "".into(), 404, "not_found", None),
        ("GET", "/v1/namespaces/ns/timers/a/b/c", vec![], "".into(), 404, "not_found", None),
        ("POST", "/v1/namespaces/ns/timers/a:explode", vec![], "".into(), 404, "not_found", None),
        ("POST", "/v1/namespaces/ns/timers/a%20b:pause", vec![], "".into(), 422, "invalid_field", Some("id")),
        ("GET", "/v1/schedules:preview?cron=0+0+25+*+*+*", vec![], "".into(), 422, "invalid_field", Some("cron")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], with("schedule", json!({"cron": "61 * * * *"})), 422, "invalid_field", Some("schedule.cron")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], with("schedule", json!({"iso": "R3/P1D"})), 422, "invalid_field", Some("schedule.iso")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], with("schedule", json!({"cron": "@daily", "timezone": "Mars/Base"})), 422, "invalid_field", Some("schedule.timezone")),
        ("PUT", "/v1/namespaces/ns/timers/a", vec![], with("schedule", json!({"every": "1m", "misfire": "often"})), 422, "invalid_field", Some("schedule.misfire")),
        ("POST", "/v1/namespaces/ns/timers/a", vec![], timer().to_string(), 405, "method_not_allowed", None),
        ("PUT", t, vec![], timer().to_string(), 405, "method_not_allowed", None),
        ("GET", "/v1/namespaces/ns/timers:batch", vec![], "".into(), 405, "method_not_allowed", None),
        ("DELETE", "/health", vec![], "".into(), 405, "method_not_allowed", None),
    ];
    for (method, path, hdrs, body, status, code, field) in cases {
        let (got, doc) = send(&gw, method, path, &hdrs, body).await;
        assert_eq!(got, status, "{method} {path}: {doc}");
        assert_eq!(doc["error"], code, "{method} {path}: {doc}");
        assert!(
            doc["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {doc}"
        );
        assert_eq!(doc["field"].as_str(), field, "{method} {path}: {doc}");
    }

    // A batch whose every item is invalid answers per item, and publishes nothing.
    let mut bad = timer();
    bad["schedule"] = json!({"at": "soon"});
    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers:batch",
        &[],
        json!({"timers": [bad, 5]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["results"][0]["status"], 422);
    assert_eq!(doc["results"][0]["error"]["field"], "timers[0].schedule.at");
    assert_eq!(doc["results"][1]["error"]["field"], "timers[1]");

    assert_eq!(
        gw.commands_on_stream().await,
        0,
        "a refused request published a command"
    );
    assert_eq!(gw.state.replies.waiting(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413() {
    let nats = Nats::start().await;
    let config = GatewayConfig {
        max_body_bytes: 64 * 1024,
        max_batch_body_bytes: 256 * 1024,
        ..quick()
    };
    let gw = Gateway::start(&nats, config).await;
    let (status, doc) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/a",
        &[],
        "x".repeat(64 * 1024 + 1024),
    )
    .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (413, Some("payload_too_large")),
        "{doc}"
    );
    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers",
        &[],
        "x".repeat(100 * 1024),
    )
    .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (413, Some("payload_too_large")),
        "{doc}"
    );
    let (status, doc) = send(
        &gw,
        "PATCH",
        "/v1/namespaces/ns/timers/a",
        &[],
        "x".repeat(100 * 1024),
    )
    .await;
    assert_eq!(status, 413, "{doc}");
    // The batch endpoint has a limit of its own.
    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers:batch",
        &[],
        "x".repeat(100 * 1024),
    )
    .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (400, Some("invalid_json")),
        "{doc}"
    );
    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers:batch",
        &[],
        "x".repeat(300 * 1024),
    )
    .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (413, Some("payload_too_large")),
        "{doc}"
    );
    assert_eq!(gw.commands_on_stream().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_health_readiness_and_the_document() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    let (status, doc) = send(&gw, "GET", "/v1/namespaces/ns/timers/absent", &[], "").await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (404, Some("not_found")),
        "{doc}"
    );
    let (status, doc) = send(
        &gw,
        "GET",
        "/v1/namespaces/ns/timers/absent/executions",
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (404, Some("not_found")),
        "{doc}"
    );
    let (status, doc) = send(&gw, "GET", "/v1/namespaces/ns/timers?limit=10", &[], "").await;
    assert_eq!(
        (status, doc),
        (200, json!({"items": [], "next_cursor": null}))
    );
    assert_eq!(
        send(&gw, "GET", "/health", &[], "").await,
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        send(&gw, "GET", "/ready", &[], "").await,
        (200, json!({"status": "ok"}))
    );

    let (status, doc) = send(&gw, "GET", "/openapi.json", &[], "").await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in [
        ("put", "/v1/namespaces/{ns}/timers/{id}"),
        ("get", "/v1/namespaces/{ns}/timers/{id}"),
        ("patch", "/v1/namespaces/{ns}/timers/{id}"),
        ("delete", "/v1/namespaces/{ns}/timers/{id}"),
        ("post", "/v1/namespaces/{ns}/timers"),
        ("get", "/v1/namespaces/{ns}/timers"),
        ("post", "/v1/namespaces/{ns}/timers:batch"),
        ("get", "/v1/namespaces/{ns}/timers/{id}/executions"),
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/openapi.json"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // Every answer carries a request id, the client's when it sent one.
    let r = gw
        .http
        .get(gw.url("/health"))
        .header("x-request-id", "abc-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-1");
    let r = gw.http.get(gw.url("/health")).send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scheduler_a_change_is_accepted_after_the_reply_timeout() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    let started = Instant::now();
    let (status, doc) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t1",
        &[("if-match", "\"3\"")],
        timer().to_string(),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(status, 202, "{doc}");
    assert_eq!(doc["status"], "accepted");
    let command_id = doc["command_id"].as_str().unwrap().to_owned();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "took {took:?}"
    );

    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers",
        &[],
        timer().to_string(),
    )
    .await;
    assert_eq!(status, 202, "{doc}");
    let commands = gw.stream_commands().await;
    assert_eq!(commands.len(), 2);
    let (put, hdrs) = &commands[0];
    assert_eq!(put.id.as_str(), "t1");
    assert_eq!(put.expected_revision, Some(3));
    assert!(matches!(
        put.body,
        ontime_core::command::CommandBody::Upsert { .. }
    ));
    assert_eq!(
        hdrs.get(headers::MSG_ID).map(|v| v.to_string()),
        Some(command_id)
    );
    assert!(hdrs.get(headers::REPLY_TO).is_some());
    let (post, _) = &commands[1];
    assert!(
        uuid::Uuid::parse_str(post.id.as_str()).is_ok(),
        "a generated id is a UUID: {}",
        post.id
    );
    assert_eq!(
        gw.state.replies.waiting(),
        0,
        "a timed-out request left its waiter behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_publishes_one_command() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    let key = [("idempotency-key", "order-42")];
    let (first, a) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t1",
        &key,
        timer().to_string(),
    )
    .await;
    let (second, b) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t1",
        &key,
        timer().to_string(),
    )
    .await;
    assert_eq!((first, second), (202, 202), "{a} {b}");
    assert_eq!(a["command_id"], "idem/ns/order-42");
    assert_eq!(a["command_id"], b["command_id"]);
    // POST without an id names the same timer on a retry.
    let key = [("idempotency-key", "create-1")];
    send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers",
        &key,
        timer().to_string(),
    )
    .await;
    send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers",
        &key,
        timer().to_string(),
    )
    .await;
    let batch = json!({"timers": [timer(), timer()]}).to_string();
    let (status, first) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers:batch",
        &[("idempotency-key", "b-1")],
        batch.clone(),
    )
    .await;
    assert_eq!(status, 200);
    let (_, second) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers:batch",
        &[("idempotency-key", "b-1")],
        batch,
    )
    .await;
    assert_eq!(first["results"][1]["id"], second["results"][1]["id"]);
    assert_eq!(
        gw.commands_on_stream().await,
        4,
        "one command per key and batch item"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_routed_to_their_requests() {
    let nats = Nats::start().await;
    let gw = Gateway::start(
        &nats,
        GatewayConfig {
            reply_timeout: Duration::from_secs(5),
            ..quick()
        },
    )
    .await;
    let _scheduler = gw.fake_scheduler().await;

    let r = gw
        .http
        .put(gw.url("/v1/namespaces/ns/timers/t1"))
        .body(timer().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        (created["id"].as_str(), created["status"].as_str()),
        (Some("t1"), Some("scheduled")),
        "{created}"
    );
    assert_eq!(etag, format!("\"{}\"", created["revision"]));
    let (status, read) = send(&gw, "GET", "/v1/namespaces/ns/timers/t1", &[], "").await;
    assert_eq!((status, &read), (200, &created));

    let stale = (created["revision"].as_u64().unwrap() + 10).to_string();
    let (status, doc) = send(
        &gw,
        "DELETE",
        "/v1/namespaces/ns/timers/t1",
        &[("if-match", &stale)],
        "",
    )
    .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (409, Some("revision_conflict")),
        "{doc}"
    );
    let (status, doc) = send(
        &gw,
        "PATCH",
        "/v1/namespaces/ns/timers/absent",
        &[],
        json!({"retry": {"max_attempts": 2}}).to_string(),
    )
    .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (404, Some("not_found")),
        "{doc}"
    );
    let (status, doc) = send(
        &gw,
        "PATCH",
        "/v1/namespaces/ns/timers/t1",
        &[],
        json!({"retry": {"max_attempts": 2}}).to_string(),
    )
    .await;
    assert_eq!(
        (status, &doc["retry"]["max_attempts"]),
        (200, &json!(2)),
        "{doc}"
    );
    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers",
        &[],
        timer().to_string(),
    )
    .await;
    assert_eq!(status, 201, "{doc}");

    // Concurrent requests each get their own reply.
    let requests = (0..20).map(|i| {
        send(
            &gw,
            "PUT",
            Box::leak(format!("/v1/namespaces/ns/timers/c{i}").into_boxed_str()),
            &[],
            timer().to_string(),
        )
    });
    for (i, (status, doc)) in futures::future::join_all(requests)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            (status, doc["id"].as_str()),
            (200, Some(format!("c{i}").as_str())),
            "{doc}"
        );
    }

    // A retried request is answered from the stored state.
    let key = [("idempotency-key", "again")];
    let (first, a) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t2",
        &key,
        timer().to_string(),
    )
    .await;
    let (second, b) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t2",
        &key,
        timer().to_string(),
    )
    .await;
    assert_eq!((first, second), (200, 200));
    assert_eq!(a, b);

    let mut items: Vec<Value> = (0..50)
        .map(|i| {
            let mut t = timer();
            t["id"] = json!(format!("b{i}"));
            t
        })
        .collect();
    items[7]["schedule"] = json!({"after": "-1s"});
    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers:batch",
        &[],
        json!({"timers": items}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 50);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i);
        if i == 7 {
            assert_eq!(
                (result["status"].as_u64(), result["error"]["field"].as_str()),
                (Some(422), Some("timers[7].schedule.after"))
            );
        } else {
            assert_eq!(
                (result["status"].as_u64(), result["timer"]["id"].as_str()),
                (Some(201), Some(format!("b{i}").as_str())),
                "{result}"
            );
        }
    }
    let (_, page) = send(&gw, "GET", "/v1/namespaces/ns/timers?limit=1000", &[], "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1 + 1 + 20 + 1 + 49);
    let (_, page) = send(&gw, "GET", "/v1/namespaces/ns/timers?limit=2", &[], "").await;
    assert_eq!(page["next_cursor"], page["items"][1]["id"]);

    let (status, doc) = send(&gw, "DELETE", "/v1/namespaces/ns/timers/t1", &[], "").await;
    assert_eq!(
        (status, doc["status"].as_str()),
        (200, Some("cancelled")),
        "{doc}"
    );
    let (status, doc) = send(&gw, "GET", "/v1/namespaces/ns/timers/t1", &[], "").await;
    assert_eq!(
        (status, doc["status"].as_str()),
        (200, Some("cancelled")),
        "{doc}"
    );
    let (status, doc) = send(
        &gw,
        "GET",
        "/v1/namespaces/ns/timers/t1/executions",
        &[],
        "",
    )
    .await;
    assert_eq!(
        (status, doc),
        (200, json!({"items": [], "next_cursor": null}))
    );
    assert_eq!(gw.state.replies.waiting(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_nats_changes_are_503_within_the_bound() {
    let mut nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    nats.kill().await;
    let started = Instant::now();
    let (status, doc) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t1",
        &[],
        timer().to_string(),
    )
    .await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (503, Some("unavailable")),
        "{doc}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers:batch",
        &[],
        json!({"timers": [timer(), timer()]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert!(
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == 503),
        "{doc}"
    );
    let (status, doc) = send(&gw, "GET", "/ready", &[], "").await;
    assert_eq!(
        (status, doc["error"].as_str()),
        (503, Some("unavailable")),
        "{doc}"
    );
    assert_eq!(send(&gw, "GET", "/health", &[], "").await.0, 200);
    assert_eq!(gw.state.replies.waiting(), 0);
}
