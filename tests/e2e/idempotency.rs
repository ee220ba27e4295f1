//! Idempotency keys end to end: a key names one request. The same request again is answered
//! what the first got, and applied once; another request under the key is refused; and a
//! retry is never answered as applied before its first request was.

use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use ontime_testkit::{NatsServer, Ontime, Part, Sink, eventually};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// Sends `method path` with `Idempotency-Key: key` (if any) and an optional JSON body.
async fn send(
    o: &Ontime,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = o.http.request(method, o.api(path));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Sends `method path` with no body under `Idempotency-Key: key`.
async fn keyed(o: &Ontime, method: Method, path: &str, key: &str) -> (u16, Value) {
    send(o, method, path, Some(key), None).await
}

/// Creates timer `id` of namespace `idem`, due in an hour.
async fn create(o: &Ontime, sink: &Sink, id: &str) {
    let path = format!("/namespaces/idem/timers/{id}");
    let (code, body) = send(o, Method::PUT, &path, None, Some(later(sink))).await;
    assert_eq!(code, 200, "create {id}: {body}");
}

fn later(sink: &Sink) -> Value {
    json!({"schedule": {"after": "1h"}, "target": {"http": {"url": sink.url("/later")}}})
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused_and_a_retry_gets_the_first_answer() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    for id in ["x", "y", "p", "q"] {
        create(&o, &sink, id).await;
    }

    // DELETE x, then DELETE y under the same key: the second is another request.
    let (code, first) = keyed(&o, Method::DELETE, "/namespaces/idem/timers/x", "k-delete").await;
    assert_eq!((code, first["status"].as_str()), (200, Some("cancelled")));
    let (code, refused) = keyed(&o, Method::DELETE, "/namespaces/idem/timers/y", "k-delete").await;
    assert_eq!(code, 409, "{refused}");
    assert_eq!(refused["error"], "idempotency_key_reused");
    assert_eq!(refused["field"], "Idempotency-Key");
    let (_, y) = send(&o, Method::GET, "/namespaces/idem/timers/y", None, None).await;
    assert_eq!(
        y["status"], "scheduled",
        "a refused request changes nothing"
    );
    // The first request again: the first answer.
    let (code, again) = keyed(&o, Method::DELETE, "/namespaces/idem/timers/x", "k-delete").await;
    assert_eq!((code, &again), (200, &first));

    // The same for an action.
    let (code, paused) = keyed(
        &o,
        Method::POST,
        "/namespaces/idem/timers/p:pause",
        "k-pause",
    )
    .await;
    assert_eq!((code, paused["status"].as_str()), (200, Some("paused")));
    let (code, _) = keyed(
        &o,
        Method::POST,
        "/namespaces/idem/timers/q:pause",
        "k-pause",
    )
    .await;
    assert_eq!(code, 409);
    let (code, _) = keyed(
        &o,
        Method::POST,
        "/namespaces/idem/timers/p:resume",
        "k-pause",
    )
    .await;
    assert_eq!(code, 409, "another action under the key");
    let (_, q) = send(&o, Method::GET, "/namespaces/idem/timers/q", None, None).await;
    assert_eq!(q["status"], "scheduled");

    // A create under a key, then another body under it.
    let (code, created) = send(
        &o,
        Method::POST,
        "/namespaces/idem/timers",
        Some("k-create"),
        Some(later(&sink)),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    let mut other = later(&sink);
    other["schedule"] = json!({"after": "2h"});
    let (code, refused) = send(
        &o,
        Method::POST,
        "/namespaces/idem/timers",
        Some("k-create"),
        Some(other),
    )
    .await;
    assert_eq!(
        (code, refused["error"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    let (code, again) = send(
        &o,
        Method::POST,
        "/namespaces/idem/timers",
        Some("k-create"),
        Some(later(&sink)),
    )
    .await;
    assert!(code == 200 || code == 201, "{code} {again}");
    assert_eq!(again["id"], created["id"]);
    assert_eq!(
        again["revision"], created["revision"],
        "answered, not applied again"
    );

    // A batch under a key: the same batch again is a retry, another one is refused, and so
    // is a single request under the batch's key.
    let batch = json!({"timers": [later(&sink), later(&sink)]});
    let (code, first) = send(
        &o,
        Method::POST,
        "/namespaces/idem/timers:batch",
        Some("k-batch"),
        Some(batch.clone()),
    )
    .await;
    assert_eq!(code, 200, "{first}");
    let (code, again) = send(
        &o,
        Method::POST,
        "/namespaces/idem/timers:batch",
        Some("k-batch"),
        Some(batch),
    )
    .await;
    assert_eq!(code, 200, "{again}");
    let ids = |v: &Value| -> Vec<Value> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect()
    };
    assert_eq!(
        ids(&again),
        ids(&first),
        "a retried batch names the same timers"
    );
    let other = json!({"timers": [later(&sink)]});
    let (code, refused) = send(
        &o,
        Method::POST,
        "/namespaces/idem/timers:batch",
        Some("k-batch"),
        Some(other),
    )
    .await;
    assert_eq!(
        (code, refused["error"].as_str()),
        (409, Some("idempotency_key_reused")),
        "{refused}"
    );
    let (code, _) = keyed(&o, Method::DELETE, "/namespaces/idem/timers/q", "k-batch").await;
    assert_eq!(code, 409, "a single request under a batch's key");

    // A refusal is remembered like any answer: a trigger of a missing timer stays a 404.
    for _ in 0..2 {
        let (code, body) = keyed(
            &o,
            Method::POST,
            "/namespaces/idem/timers/missing:trigger",
            "k-trigger",
        )
        .await;
        assert_eq!(code, 404, "{body}");
    }
}

#[tokio::test]
async fn a_retry_is_not_answered_as_applied_before_its_first_request_is() {
    let nats = NatsServer::start().await;
    let gateway = ontime_gateway::GatewayConfig {
        reply_timeout: Duration::from_millis(500),
        ..ontime_testkit::gateway_config()
    };
    let mut o = Ontime::start_with(&nats.url(), 1, 1, gateway).await;
    let sink = Sink::start().await;
    create(&o, &sink, "d").await;

    // No scheduler: the DELETE is durable but not applied, and so is its retry.
    o.stop(Part::Scheduler).await;
    let (code, accepted) = keyed(&o, Method::DELETE, "/namespaces/idem/timers/d", "k-d").await;
    assert_eq!(code, 202, "{accepted}");
    let (code, retried) = keyed(&o, Method::DELETE, "/namespaces/idem/timers/d", "k-d").await;
    assert_eq!(
        code, 202,
        "a retry must not be answered 200 from the timer as it stands (still active): {retried}"
    );

    // Once applied, the retry is answered with the cancelled timer.
    o.add(Part::Scheduler).await;
    let done = eventually(WAIT, "the retried delete to be answered 200", || async {
        let (code, body) = keyed(&o, Method::DELETE, "/namespaces/idem/timers/d", "k-d").await;
        (code == 200).then_some(body)
    })
    .await;
    assert_eq!(done["status"], "cancelled");
}

/// A command published straight to NATS under a key, as another service would, with its
/// own `Nats-Msg-Id` (JetStream does not de-duplicate it): the scheduler answers it from the
/// key, so a trigger sent twice fires once, and another request under the key is refused.
#[tokio::test]
async fn the_scheduler_answers_a_key_used_again_past_the_deduplication_window() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    create(&o, &sink, "t").await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let subject = o.names().cmd_subject(&ontime_core::TimerKey::new(
        ontime_core::Namespace::parse("idem").unwrap(),
        ontime_core::TimerId::parse("t").unwrap(),
    ));
    let command = |fingerprint: &str| {
        json!({"v": 1, "namespace": "idem", "id": "t", "kind": "trigger",
               "idempotency": {"key": "k-nats", "fingerprint": fingerprint}})
    };
    let publish = |body: Value, msg_id: &'static str| {
        let js = js.clone();
        let client = client.clone();
        let subject = subject.clone();
        async move {
            let inbox = client.new_inbox();
            let mut replies = client.subscribe(inbox.clone()).await.unwrap();
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", msg_id);
            headers.insert("Ontime-Reply-To", inbox.as_str());
            js.publish_with_headers(subject, headers, Bytes::from(body.to_string()))
                .await
                .unwrap()
                .await
                .unwrap();
            let reply = tokio::time::timeout(WAIT, replies.next())
                .await
                .unwrap()
                .unwrap();
            serde_json::from_slice::<Value>(&reply.payload).unwrap()
        }
    };
    let first = publish(command("f1"), "m1").await;
    assert_eq!(first["ok"], true, "{first}");
    let again = publish(command("f1"), "m2").await;
    assert_eq!(again, first, "the same request is answered what it got");
    let other = publish(command("f2"), "m3").await;
    assert_eq!(other["error"]["error"], "idempotency_key_reused", "{other}");

    sink.wait_for("/later", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.calls("/later").len(), 1, "the trigger fired once");
}
