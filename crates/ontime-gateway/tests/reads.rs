//! Reads over HTTP with no scheduler running: absent timers and their executions are 404,
//! an empty namespace lists no timers, health and readiness answer, the OpenAPI document lists
//! every endpoint, and every answer carries a request id.

mod common;

use common::{Gateway, Nats, quick, send};
use serde_json::json;

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
        (
            200,
            json!({"status": "ok", "api": true, "nats": true, "postgres": true, "mysql": true})
        )
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
