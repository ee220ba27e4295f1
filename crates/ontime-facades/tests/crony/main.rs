//! Crony's API end to end, black-box: a real nats-server, the real gateway with the facade
//! mounted, a scheduler, a worker and an HTTP sink as the callback target.

#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Value, json};

use common::{WAIT, World, id_of, ids, once_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_created_read_changed_and_deleted_as_documented() {
    let w = World::start().await;
    let health = w.health().await;
    assert_eq!(
        (health["api"].as_bool(), health["postgres"].as_bool()),
        (Some(true), Some(true))
    );
    let (code, none) = w.get("/events").await;
    assert_eq!((code, none), (200, json!([])));

    let url = w.sink.url("/job");
    let (code, created) = w
        .json(
            "POST",
            "/events",
            json!({"url": url, "expression": "0 5 * * * *",
                                        "status": "active", "max_retries": 2, "retry_timeout": 3}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let id = id_of(&created);
    assert_eq!(
        (&created["url"], &created["expression"], &created["status"]),
        (&json!(url), &json!("0 5 * * * *"), &json!("active"))
    );
    assert_eq!(
        (created["max_retries"].as_u64(), created["retries"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(created["retry_timeout"], 3);
    for stamp in ["created_at", "updated_at"] {
        DateTime::parse_from_rfc3339(created[stamp].as_str().unwrap()).unwrap();
    }

    // The code's wire variants: `retries`, a Go duration in nanoseconds, defaults.
    let (code, second) = w
        .json(
            "POST",
            "/events",
            json!({"url": url, "expression": "*/5 * * * * *",
                                        "retries": 0, "retry_timeout": 1_000_000_000_i64}),
        )
        .await;
    assert_eq!(code, 201, "{second}");
    assert_eq!(id_of(&second), id + 1, "ids are consecutive integers");
    assert_eq!(
        (
            second["max_retries"].as_u64(),
            second["retry_timeout"].as_i64()
        ),
        (Some(0), Some(1_000_000_000))
    );
    let (_, third) = w
        .json(
            "POST",
            "/events",
            json!({"url": url, "expression": "@hourly"}),
        )
        .await;
    assert_eq!(
        (third["status"].as_str(), third["retries"].as_u64()),
        (Some("active"), Some(1))
    );

    let (code, listed) = w.get("/events").await;
    assert_eq!(code, 200);
    assert_eq!(ids(&listed), vec![id, id + 1, id + 2]);
    let (code, one) = w.get(&format!("/events/{id}")).await;
    assert_eq!((code, &one), (200, &created));
    let (_, filtered) = w.get("/events?expression=@hourly").await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    // Every event is a native timer in the `crony` namespace.
    let native = w.native("crony", id).await;
    assert_eq!(native["metadata"]["facade"], "crony");
    assert_eq!(native["target"]["http"]["method"], "GET");
    assert_eq!(native["retry"]["max_attempts"], 3);

    // PATCH (the document's) merges; PUT (the code's) replaces.
    let (code, patched) = w
        .json(
            "PATCH",
            &format!("/events/{id}"),
            json!({"expression": "0 2 * * * *"}),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["expression"], "0 2 * * * *");
    assert_eq!(
        (patched["url"].as_str(), patched["max_retries"].as_u64()),
        (Some(url.as_str()), Some(2))
    );
    assert_eq!(patched["created_at"], created["created_at"]);
    let (code, refused) = w
        .json(
            "PUT",
            &format!("/events/{id}"),
            json!({"expression": "0 3 * * * *"}),
        )
        .await;
    assert_eq!(code, 422);
    assert_eq!(
        refused,
        json!({"status": "invalid_event", "message": "field url is mandatory"})
    );
    w.json(
        "PATCH",
        &format!("/events/{id}"),
        json!({"status": "inactive"}),
    )
    .await;
    let (code, put) = w
        .json(
            "PUT",
            &format!("/events/{id}"),
            json!({"url": url, "expression": "0 3 * * * *"}),
        )
        .await;
    assert_eq!(code, 200, "{put}");
    assert_eq!(
        (put["status"].as_str(), put["max_retries"].as_u64()),
        (Some("active"), Some(1))
    );

    let (code, deleted) = w.send("DELETE", &format!("/events/{id}"), None).await;
    assert_eq!(
        (code, deleted),
        (
            200,
            json!({"status": "event_deleted", "message": "The event was successfully deleted"})
        )
    );
    let gone = json!({"status": "event_not_found", "message": "The event was not found"});
    for (method, path) in [
        ("GET", format!("/events/{id}")),
        ("DELETE", format!("/events/{id}")),
        ("PATCH", format!("/events/{id}")),
        ("GET", "/events/abc".to_owned()),
        ("GET", "/events/".to_owned()),
        ("DELETE", format!("/events/{id}/more")),
        ("GET", "/events/999999".to_owned()),
    ] {
        let (code, body) = w.send(method, &path, Some("{}")).await;
        assert_eq!((code, &body), (404, &gone), "{method} {path}");
    }
    let (_, left) = w.get("/events").await;
    assert_eq!(left.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_in_cronys_shape_and_nothing_is_stored() {
    let w = World::start().await;
    let invalid_json =
        json!({"status": "invalid_json", "message": "Cannot decode the given JSON payload"});
    for body in [
        "not json",
        "",
        "[]",
        r#"{"url": 1}"#,
        r#"{"retries": "2"}"#,
        r#"{"retries": 2.5}"#,
    ] {
        let (code, answer) = w.send("POST", "/events", Some(body)).await;
        assert_eq!((code, &answer), (400, &invalid_json), "{body:?}");
    }
    let url = w.sink.url("/job");
    let cases = [
        (json!({}), "field url is mandatory"),
        (json!({"url": url}), "field expression is mandatory"),
        (
            json!({"url": url, "expression": "* * * * * *", "status": "paused"}),
            "field status must be active or inactive",
        ),
        (
            json!({"url": url, "expression": "* * * * * *", "retries": 11}),
            "field retries must be between 0 and 10",
        ),
        (
            json!({"url": url, "expression": "* * * * * *", "max_retries": -1}),
            "field max_retries must be between 0 and 10",
        ),
    ];
    for (body, message) in cases {
        let (code, answer) = w.json("POST", "/events", body.clone()).await;
        assert_eq!(
            (code, answer),
            (422, json!({"status": "invalid_event", "message": message})),
            "{body}"
        );
    }
    for (body, starts) in [
        (
            json!({"url": url, "expression": "* * * *"}),
            "the expression must be crontab format",
        ),
        (
            json!({"url": url, "expression": "61 * * * * *"}),
            "the expression must be crontab format",
        ),
        (
            json!({"url": url, "expression": "@every soon"}),
            "the expression must be crontab format",
        ),
        (
            json!({"url": url, "expression": "* * * * * *", "retry_timeout": 5000}),
            "field retry_timeout",
        ),
        (
            json!({"url": "ftp://x/y", "expression": "* * * * * *"}),
            "field url: ",
        ),
    ] {
        let (code, answer) = w.json("POST", "/events", body.clone()).await;
        assert_eq!(
            (code, answer["status"].as_str()),
            (422, Some("invalid_event")),
            "{body}"
        );
        assert!(
            answer["message"].as_str().unwrap().starts_with(starts),
            "{answer}"
        );
    }
    let (_, listed) = w.get("/events").await;
    assert_eq!(listed, json!([]), "a refused event is not stored");

    let event = json!({"url": url, "expression": "0 0 * * * *"});
    let (code, first) = w.json("POST", "/events", event.clone()).await;
    assert_eq!(code, 201);
    assert_eq!(id_of(&first), 1, "a refused event draws no id");
    let (code, dup) = w.json("POST", "/events", event.clone()).await;
    assert_eq!(
        (code, dup),
        (
            422,
            json!({"status": "invalid_event", "message": "Event already exists"})
        )
    );
    let (_, other) = w
        .json(
            "POST",
            "/events",
            json!({"url": url, "expression": "0 1 * * * *"}),
        )
        .await;
    let (code, dup) = w
        .json(
            "PATCH",
            &format!("/events/{}", id_of(&other)),
            json!({"expression": "0 0 * * * *"}),
        )
        .await;
    assert_eq!(
        (code, dup["message"].as_str()),
        (422, Some("Event already exists"))
    );
    let (code, bad) = w
        .send("PATCH", &format!("/events/{}", id_of(&other)), Some("{"))
        .await;
    assert_eq!((code, bad), (400, invalid_json));

    let (code, not_allowed) = w.send("POST", "/events/1", Some("{}")).await;
    assert_eq!(code, 405);
    assert_eq!(not_allowed["message"], "Method Not Allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_a_get_of_its_url_on_the_second() {
    let w = World::start().await;
    let (_, every) = w
        .json(
            "POST",
            "/events",
            json!({"url": w.sink.url("/tick?team=a&x=%2F"), "expression": "* * * * * *"}),
        )
        .await;
    // Five fields read seconds first, as the original did: every other second.
    let (_, five) = w
        .json(
            "POST",
            "/events",
            json!({"url": w.sink.url("/five"), "expression": "*/2 * * * *"}),
        )
        .await;
    let calls = w.sink.wait_for("/tick", 3, WAIT).await;
    for call in &calls {
        assert_eq!(call.method, "GET");
        assert_eq!(call.query.as_deref(), Some("team=a&x=%2F"));
        assert!(call.body.is_empty());
        assert_eq!(call.header("content-type"), None);
    }
    w.sink.wait_for("/five", 2, WAIT).await;
    for (id, step) in [(id_of(&every), 1), (id_of(&five), 2)] {
        let log = w.executions("crony", id).await;
        assert!(!log.is_empty());
        for entry in log {
            let due: DateTime<Utc> = entry["due_at"].as_str().unwrap().parse().unwrap();
            assert_eq!(due.nanosecond(), 0, "due on the second: {entry}");
            assert_eq!(due.second() % step, 0, "{entry}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_event_never_fires_and_fires_again_once_active() {
    let w = World::start().await;
    let (code, event) = w
        .json(
            "POST",
            "/events",
            json!({"url": w.sink.url("/sleepy"), "expression": "* * * * * *",
                                        "status": "inactive"}),
        )
        .await;
    assert_eq!((code, event["status"].as_str()), (201, Some("inactive")));
    let id = id_of(&event);
    assert_eq!(w.native("crony", id).await["status"], "paused");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        w.sink.calls("/sleepy").is_empty(),
        "an inactive event fired"
    );

    let (_, active) = w
        .json(
            "PATCH",
            &format!("/events/{id}"),
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(active["status"], "active");
    w.sink.wait_for("/sleepy", 2, WAIT).await;
    let (_, inactive) = w
        .json(
            "PATCH",
            &format!("/events/{id}"),
            json!({"status": "inactive"}),
        )
        .await;
    assert_eq!(inactive["status"], "inactive");
    let stopped = w
        .sink
        .settled("/sleepy", Duration::from_millis(1_500), WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        w.sink.calls("/sleepy").len(),
        stopped,
        "an inactive event fired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retries_are_real_retries_retry_timeout_apart_and_the_body_is_not_read() {
    let w = World::start().await;
    // Two failures then a success: three calls of one occurrence.
    w.sink.script("/flaky", &[500, 503]);
    let (spec, due) = once_in(Duration::from_secs(2));
    let (_, flaky) = w
        .json(
            "POST",
            "/events",
            json!({"url": w.sink.url("/flaky"), "expression": spec,
                                        "max_retries": 2, "retry_timeout": 1}),
        )
        .await;
    let calls = w.sink.wait_for("/flaky", 3, WAIT).await;
    assert!(calls[0].at >= due);
    for pair in calls.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= chrono::Duration::milliseconds(1_000),
            "retried too soon"
        );
    }
    let attempts: Vec<_> = calls
        .iter()
        .map(|c| c.header("ontime-attempt").unwrap().to_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    let log = w.executions("crony", id_of(&flaky)).await;
    assert_eq!(log[0]["outcome"], "succeeded", "{log:?}");

    // A call slower than retry_timeout is abandoned and retried; no retry is left after
    // max_retries.
    w.sink
        .script_answer("/slow", 200, "", Duration::from_secs(3));
    w.sink
        .script_answer("/slow", 200, "", Duration::from_secs(3));
    let (spec, _) = once_in(Duration::from_secs(2));
    let (_, slow) = w
        .json(
            "POST",
            "/events",
            json!({"url": w.sink.url("/slow"), "expression": spec,
                                        "max_retries": 1, "retry_timeout": 1}),
        )
        .await;
    w.sink.wait_for("/slow", 2, WAIT).await;
    let failed = failed_attempt(&w, id_of(&slow)).await;
    assert!(
        failed["error"].as_str().unwrap().contains("timeout"),
        "{failed}"
    );
    assert_eq!(
        w.sink
            .settled("/slow", Duration::from_millis(1_500), WAIT)
            .await,
        2
    );

    // Crony never read its callbacks' answers: {"code": 400} does not stop an event.
    for _ in 0..3 {
        w.sink.script_answer(
            "/says-stop",
            200,
            r#"{"code": 400, "message": "stop"}"#,
            Duration::ZERO,
        );
    }
    w.json(
        "POST",
        "/events",
        json!({"url": w.sink.url("/says-stop"), "expression": "* * * * * *"}),
    )
    .await;
    w.sink.wait_for("/says-stop", 3, WAIT).await;
}

/// The failed entry of event `id`'s log, once there is one.
async fn failed_attempt(w: &World, id: u64) -> Value {
    ontime_testkit::eventually(WAIT, "a failed attempt", || async {
        w.executions("crony", id)
            .await
            .into_iter()
            .find(|e| e["outcome"] == "failed")
    })
    .await
}
