//! The callback: its request, and what its answer does (the document's contract).

use std::time::Duration;

use serde_json::{Value, json};

use super::{WAIT, World, in_ms, rfc3339};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_is_a_post_of_the_documented_body_at_execute_at() {
    let w = World::start().await;
    let due = in_ms(1_500);
    let (code, created) = w
        .post(
            "/timers/create",
            json!({"namespace": "cb", "id": "ping", "executeAt": rfc3339(due),
                   "callbackUrl": w.sink.url("/hook"), "payload": {"user": 42}}),
        )
        .await;
    assert_eq!(code, 200, "{created}");
    let calls = w.sink.wait_for("/hook", 1, WAIT).await;
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&call.body).unwrap(),
        json!({"namespace": "cb", "id": "ping", "executeAt": created["executeAt"],
               "payload": {"user": 42}})
    );
    assert!(call.at >= due, "called before executeAt");
    assert!(call.at - due < chrono::Duration::seconds(1), "called late");

    w.native_status("cb", "ping", "succeeded").await;
    let (code, done) = w.get("cb", "ping").await;
    assert_eq!(code, 200);
    assert!(done["executedAt"].is_string(), "{done}");
    // Done: {"ok": true} ends it; an update or delete now is refused.
    let (code, refused) = w
        .post(
            "/timers/update",
            json!({"namespace": "cb", "timerId": "ping", "payload": {}}),
        )
        .await;
    assert_eq!(
        (code, refused["error"].as_str()),
        (400, Some("INVALID_INPUT"))
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.sink.calls("/hook").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_execute_at_runs_it_again_then_ok_ends_it() {
    let w = World::start().await;
    let again = in_ms(3_000);
    w.sink.script_answer(
        "/again",
        200,
        &json!({"ok": false, "nextExecuteAt": rfc3339(again)}).to_string(),
        Duration::ZERO,
    );
    let (code, _) = w
        .post(
            "/timers/create",
            json!({"namespace": "cb", "id": "again", "executeAt": rfc3339(in_ms(1_000)),
                   "callbackUrl": w.sink.url("/again")}),
        )
        .await;
    assert_eq!(code, 200);
    w.sink.wait_for("/again", 1, WAIT).await;
    // Rescheduled: the timer shows its new time, and is pending again.
    let expected = json!(rfc3339(again));
    ontime_testkit::eventually(WAIT, "executeAt to show nextExecuteAt", || async {
        let (_, timer) = w.get("cb", "again").await;
        (timer["executeAt"] == expected).then_some(())
    })
    .await;
    let calls = w.sink.wait_for("/again", 2, WAIT).await;
    assert!(
        calls[1].at >= again,
        "the second run came before nextExecuteAt"
    );
    w.native_status("cb", "again", "succeeded").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.sink.calls("/again").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_final_and_a_5xx_is_retried_per_policy() {
    let w = World::start().await;
    w.sink.script("/final", &[404]);
    w.sink.script("/flaky", &[500, 503, 500, 500]);
    let policy = json!({"maxAttempts": 3, "initialInterval": "300ms", "backoffMultiplier": 2});
    for (id, path) in [("final", "/final"), ("flaky", "/flaky")] {
        let (code, created) = w
            .post(
                "/timers/create",
                json!({"namespace": "cb", "id": id, "executeAt": rfc3339(in_ms(800)),
                       "callbackUrl": w.sink.url(path), "retryPolicy": policy}),
            )
            .await;
        assert_eq!(code, 200, "{created}");
        assert_eq!(created["retryPolicy"]["initialInterval"], "300ms");
    }
    let calls = w.sink.wait_for("/flaky", 3, WAIT).await;
    let gaps: Vec<_> = calls.windows(2).map(|c| c[1].at - c[0].at).collect();
    assert!(gaps[0] >= chrono::Duration::milliseconds(300), "{gaps:?}");
    assert!(gaps[1] >= chrono::Duration::milliseconds(600), "{gaps:?}");
    w.native_status("cb", "flaky", "failed").await;
    w.native_status("cb", "final", "failed").await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(w.sink.calls("/flaky").len(), 3, "maxAttempts is 3");
    assert_eq!(w.sink.calls("/final").len(), 1, "a 4xx is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_callback_times_out_and_is_retried_and_max_retries_counts_retries() {
    let w = World::start().await;
    w.sink.script_answer(
        "/slow",
        200,
        r#"{"ok": true}"#,
        Duration::from_millis(2_500),
    );
    let (code, created) = w
        .post(
            "/timers/create",
            json!({"namespace": "cb", "id": "slow", "executeAt": rfc3339(in_ms(800)),
                   "callbackUrl": w.sink.url("/slow"), "callbackTimeoutSeconds": 1,
                   "retryPolicy": {"maxRetries": 1, "initialInterval": "200ms"}}),
        )
        .await;
    assert_eq!(code, 200, "{created}");
    assert_eq!(created["retryPolicy"]["maxAttempts"], 2);
    w.sink.wait_for("/slow", 2, WAIT).await;
    w.native_status("cb", "slow", "succeeded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_timer_never_fires() {
    let w = World::start().await;
    let due = in_ms(1_500);
    let (code, _) = w
        .post(
            "/timers/create",
            json!({"namespace": "cb", "id": "gone", "executeAt": rfc3339(due),
                   "callbackUrl": w.sink.url("/gone")}),
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = w
        .post(
            "/timers/delete",
            json!({"namespace": "cb", "timerId": "gone"}),
        )
        .await;
    assert_eq!(code, 204);
    let (_, native) = w.native("cb", "gone").await;
    assert_eq!(native["status"], "cancelled");
    tokio::time::sleep(
        (due - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1),
    )
    .await;
    assert!(w.sink.calls("/gone").is_empty());
}
