//! Every bad input gets its status and machine-readable code, and changes nothing: with a
//! scheduler running, no command reaches the stream and no timer is stored.

use ontime_testkit::{NatsServer, Ontime, Sink};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_refused_and_nothing_is_stored() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let ok = json!({"schedule": {"after": "1h"}, "target": {"http": {"url": sink.url("/x")}}});
    let with = |path: &str, value: Value| ontime_testkit::with_field(&ok, path, value);
    let long_id = "x".repeat(256);
    // method, path, body, expected status, code and field.
    type Case<'a> = (&'a str, String, String, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            "{not json".into(),
            400,
            "invalid_json",
            None,
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            "[1]".into(),
            400,
            "invalid_json",
            None,
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            with("target.http.url", json!("ftp://x")),
            422,
            "invalid_field",
            Some("target.http.url"),
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            with("schedule", json!({"sometimes": 1})),
            422,
            "invalid_field",
            Some("schedule.sometimes"),
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            with("schedule", json!({"after": "-5s"})),
            422,
            "invalid_field",
            Some("schedule.after"),
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            with("schedule", json!({"at": "tomorrow"})),
            422,
            "invalid_field",
            Some("schedule.at"),
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            with("retry.max_attempts", json!(0)),
            422,
            "invalid_field",
            Some("retry.max_attempts"),
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            with("target.http.body", json!("x".repeat(300_000))),
            422,
            "invalid_field",
            Some("target.http.body"),
        ),
        (
            "PUT",
            format!("/namespaces/e2e/timers/{long_id}"),
            ok.to_string(),
            422,
            "invalid_field",
            Some("id"),
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a%20b".into(),
            ok.to_string(),
            422,
            "invalid_field",
            Some("id"),
        ),
        (
            "PUT",
            format!("/namespaces/{}/timers/a", "n".repeat(65)),
            ok.to_string(),
            422,
            "invalid_field",
            Some("namespace"),
        ),
        (
            "PUT",
            "/namespaces/e2e/timers/a".into(),
            "x".repeat(1024 * 1024 + 1024),
            413,
            "payload_too_large",
            None,
        ),
        (
            "PATCH",
            "/namespaces/e2e/timers/absent".into(),
            json!({"retry": {"max_attempts": 2}}).to_string(),
            404,
            "not_found",
            None,
        ),
        (
            "DELETE",
            "/namespaces/e2e/timers/absent".into(),
            String::new(),
            404,
            "not_found",
            None,
        ),
        (
            "GET",
            "/namespaces/e2e/timers/absent".into(),
            String::new(),
            404,
            "not_found",
            None,
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let r = o
            .http
            .request(method.parse().unwrap(), o.api(&path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let got_status = r.status().as_u16();
        let doc: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(got_status, status, "{method} {path}: {doc}");
        assert_eq!(doc["error"], code, "{method} {path}: {doc}");
        assert!(
            doc["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {doc}"
        );
        if let Some(field) = field {
            assert_eq!(doc["field"], field, "{method} {path}: {doc}");
        }
    }
    // If-Match with a stale revision: 409, and the timer is unchanged.
    let r = o
        .http
        .put(o.api("/namespaces/e2e/timers/guarded"))
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.unwrap();
    let stale = created["revision"].as_u64().unwrap() + 100;
    let r = o
        .http
        .delete(o.api("/namespaces/e2e/timers/guarded"))
        .header("if-match", stale.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "revision_conflict"
    );
    let r = o
        .http
        .get(o.api("/namespaces/e2e/timers/guarded"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "scheduled");

    // Only the guarded timer exists; nothing else was stored.
    let r = o
        .http
        .get(o.api("/namespaces/e2e/timers"))
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    let ids: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["guarded"]);
}
