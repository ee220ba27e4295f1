//! What the gateway refuses over HTTP: bad input gets its status code, error code and field,
//! and publishes nothing; bodies over the limit are 413; once NATS is gone, changes are 503
//! within the bound.

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, Nats, quick, send, timer};
use ontime_gateway::GatewayConfig;
use serde_json::{Value, json};

fn with(path: &str, value: Value) -> String {
    ontime_testkit::with_field(&timer(), path, value)
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

/// A 405 says which methods the path serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_lists_the_methods_the_path_serves() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    for (method, path, allow) in [
        (
            "POST",
            "/v1/namespaces/ns/timers/a",
            "GET, HEAD, PUT, PATCH, DELETE",
        ),
        ("PUT", "/v1/namespaces/ns/timers", "GET, HEAD, POST"),
        ("GET", "/v1/namespaces/ns/timers:batch", "POST"),
    ] {
        let r = gw
            .http
            .request(method.parse().unwrap(), gw.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(
            r.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
    }
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

/// A gateway whose commands get no ack at all for a while, though it is connected, makes its
/// connection again: the path it had lost them (in a cluster, a route that stopped carrying
/// them), and it would answer 503 to every command until restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_hears_no_ack_reconnects() {
    use std::sync::atomic::Ordering;

    let nats = Nats::start().await;
    let config = GatewayConfig {
        ack_timeout: Duration::from_millis(300),
        ..quick()
    };
    let grouping = ontime_nats::commit::Grouping {
        silence: Duration::from_millis(500),
        ..Default::default()
    };
    let gw = Gateway::start_with(&nats, config, grouping).await;
    // The command stream gives way to a subscriber that takes its commands and never answers.
    let names = gw.topology.names().clone();
    gw.topology
        .js
        .delete_stream(names.cmd_stream())
        .await
        .unwrap();
    let client = gw.topology.client.clone();
    let _silent = client
        .subscribe(format!("{}.cmd.>", names.prefix()))
        .await
        .unwrap();
    client.flush().await.unwrap();
    let connects = || client.statistics().connects.load(Ordering::Relaxed);
    let before = connects();
    for i in 0..20 {
        let path = format!("/v1/namespaces/ns/timers/t{i}");
        let (status, doc) = send(&gw, "PUT", &path, &[], timer().to_string()).await;
        assert_eq!(status, 503, "{doc}");
        if connects() > before {
            return;
        }
    }
    panic!("no reconnection after 20 commands without an ack");
}
