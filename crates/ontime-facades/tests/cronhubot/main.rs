//! CronHubot's API end to end, black-box: a real nats-server, the real gateway with the
//! facade mounted, a scheduler, a worker and an HTTP sink as the callback target.

#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use serde_json::json;

use common::{WAIT, World, id_of, ids, once_in};

/// A time as the service writes it, `secs` from now (the facade's clock is UTC).
fn in_secs(secs: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(secs))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_jobs_are_created_read_changed_and_deleted_as_documented() {
    let w = World::start().await;
    assert_eq!(w.health().await["mysql"], true);
    let (code, none) = w.get("/cronjobs").await;
    assert_eq!(
        (code, none),
        (200, json!([])),
        "an empty list is [], never null"
    );

    let url = w.sink.url("/job?b=2&a=1");
    let (code, created) = w
        .json(
            "POST",
            "/cronjobs",
            json!({"name": "cronjob-1", "url": url, "expression": "0 5 * * * *"}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let id = id_of(&created);
    assert!(id >= 1000, "ids start at 1000: {id}");
    assert_eq!(
        (
            &created["name"],
            &created["url"],
            &created["status"],
            &created["retries"]
        ),
        (&json!("cronjob-1"), &json!(url), &json!(1), &json!(0))
    );
    assert_eq!(
        (
            &created["request_timeout"],
            &created["stop_at"],
            &created["group_id"]
        ),
        (&json!(3), &json!("0000-00-00 00:00:00"), &json!(0))
    );
    for stamp in ["created_at", "updated_at"] {
        NaiveDateTime::parse_from_str(created[stamp].as_str().unwrap(), "%Y-%m-%d %H:%M:%S")
            .unwrap();
    }
    assert_eq!(
        (
            &created["runs"],
            &created["successes"],
            &created["failures"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );

    let stop_at = in_secs(86_400);
    let (code, second) = w
        .json(
            "POST",
            "/cronjobs",
            json!({"name": "j2", "url": url, "expression": "0 6 * * * *",
                                          "status": 9, "retries": 2, "request_timeout": 5,
                                          "stop_at": stop_at, "group_id": 7}),
        )
        .await;
    assert_eq!(code, 201, "{second}");
    assert_eq!(id_of(&second), id + 1);
    assert_eq!(
        (&second["status"], &second["stop_at"], &second["group_id"]),
        (&json!(99), &json!(stop_at), &json!(7))
    );

    // The list holds the active jobs only; the filters select others.
    let (_, listed) = w.get("/cronjobs").await;
    assert_eq!(ids(&listed), vec![id]);
    let (_, inactive) = w.get("/cronjobs?status=9").await;
    assert_eq!(ids(&inactive), vec![id + 1]);
    let (_, grouped) = w.get("/cronjobs?status=99&group_id=7&name=j2").await;
    assert_eq!(grouped.as_array().unwrap().len(), 1);
    let (_, by_expression) = w.get("/cronjobs?expression=0%205%20*%20*%20*%20*").await;
    assert_eq!(by_expression.as_array().unwrap().len(), 1);

    let (code, one) = w.get(&format!("/cronjobs/{id}")).await;
    assert_eq!((code, &one), (200, &created));
    let native = w.native("cronhubot", id).await;
    assert_eq!(native["metadata"]["cronhubot.name"], "cronjob-1");
    assert!(
        native["target"]["http"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("__cronId={id}"))
    );

    let (code, patched) = w
        .json(
            "PATCH",
            &format!("/cronjobs/{id}"),
            json!({"expression": "0 2 * * * *"}),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(
        (&patched["expression"], &patched["name"], &patched["url"]),
        (&json!("0 2 * * * *"), &json!("cronjob-1"), &json!(url))
    );
    let (code, replaced) = w
        .json(
            "PUT",
            &format!("/cronjobs/{}", id + 1),
            json!({"url": url, "expression": "0 7 * * * *"}),
        )
        .await;
    assert_eq!(code, 200, "{replaced}");
    assert_eq!(
        (&replaced["status"], &replaced["name"], &replaced["stop_at"]),
        (&json!(1), &json!(""), &json!("0000-00-00 00:00:00"))
    );

    // A deletion is soft: the job stops for good, still reads with status 99, and is
    // deleted again without a 404.
    let deleted =
        json!({"status": "cronjob_deleted", "message": "The cronjob was successfully deleted"});
    let (code, answer) = w.send("DELETE", &format!("/cronjobs/{id}"), None).await;
    assert_eq!((code, &answer), (200, &deleted));
    let (code, gone) = w.get(&format!("/cronjobs/{id}")).await;
    assert_eq!((code, &gone["status"]), (200, &json!(99)));
    let (code, answer) = w.send("DELETE", &format!("/cronjobs/{id}"), None).await;
    assert_eq!((code, answer), (200, deleted));
    let (_, listed) = w.get("/cronjobs").await;
    assert_eq!(ids(&listed), vec![id + 1]);
    let (_, stopped) = w.get("/cronjobs?status=99").await;
    assert_eq!(ids(&stopped), vec![id]);
    let (code, _) = w
        .json("PATCH", &format!("/cronjobs/{id}"), json!({"status": 1}))
        .await;
    assert_eq!(code, 404, "a deleted job is not changed");

    let missing = json!({"status": "cronjob_not_found", "message": "The cronjob was not found"});
    for path in [
        "/cronjobs/999999",
        "/cronjobs/abc",
        "/cronjobs/",
        "/cronjobs/1000/x",
    ] {
        let (code, answer) = w.get(path).await;
        assert_eq!((code, &answer), (404, &missing), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_in_cronhubots_shape_and_nothing_is_stored() {
    let w = World::start().await;
    let invalid_json =
        json!({"status": "invalid_json", "message": "Cannot decode the given JSON payload"});
    let url = w.sink.url("/job");
    for body in [
        "nope".to_owned(),
        "[]".to_owned(),
        json!({"url": url, "expression": "* * * * * *", "stop_at": "2030-01-01T00:00:00Z"})
            .to_string(),
        json!({"url": url, "expression": "* * * * * *", "status": "1"}).to_string(),
    ] {
        let (code, answer) = w.send("POST", "/cronjobs", Some(&body)).await;
        assert_eq!((code, &answer), (400, &invalid_json), "{body}");
    }
    let cases = [
        (json!({}), "url is empty"),
        (
            json!({"url": url, "expression": "* * * * *"}),
            "定时配置格式不正确",
        ),
        (
            json!({"url": url, "expression": "@every 1s"}),
            "定时配置格式不正确",
        ),
        (
            json!({"url": url, "expression": "* * * * * *", "status": 0}),
            "status must be 1, 9 or 99",
        ),
        (
            json!({"url": url, "expression": "* * * * * *", "retries": 11}),
            "field retries must be between 0 and 10",
        ),
        (
            json!({"url": url, "expression": "* * * * * *", "stop_at": "2000-01-01 00:00:00"}),
            "stop_at before now",
        ),
    ];
    for (body, message) in cases {
        let (code, answer) = w.json("POST", "/cronjobs", body.clone()).await;
        assert_eq!(
            (code, answer),
            (
                422,
                json!({"status": "invalid_cronjob", "message": message})
            ),
            "{body}"
        );
    }
    let (code, answer) = w
        .json(
            "POST",
            "/cronjobs",
            json!({"url": url, "expression": "60 * * * * *"}),
        )
        .await;
    assert_eq!(
        (code, answer["status"].as_str()),
        (422, Some("invalid_cronjob"))
    );
    assert!(
        answer["message"].as_str().unwrap().contains("60"),
        "{answer}"
    );
    let (_, all) = w.get("/cronjobs?status=99").await;
    assert_eq!(all, json!([]), "a refused job is not stored");

    let job = json!({"name": "a", "url": url, "expression": "0 0 * * * *"});
    let (code, first) = w.json("POST", "/cronjobs", job.clone()).await;
    assert_eq!(
        (code, id_of(&first)),
        (201, 1000),
        "a refused job draws no id"
    );
    let (code, dup) = w.json("POST", "/cronjobs", job).await;
    assert_eq!(
        (code, dup),
        (
            422,
            json!({"status": "invalid_cronjob", "message": "Cronjob already exists"})
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_a_get_with_its_id_in_the_query_within_request_timeout() {
    let w = World::start().await;
    let (_, job) = w
        .json(
            "POST",
            "/cronjobs",
            json!({"url": w.sink.url("/hook?b=2&a=1&__cronId=5"), "expression": "* * * * * *"}),
        )
        .await;
    let id = id_of(&job);
    let calls = w.sink.wait_for("/hook", 2, WAIT).await;
    for call in &calls {
        assert_eq!(call.method, "GET");
        assert_eq!(
            call.query.as_deref(),
            Some(format!("b=2&a=1&__cronId={id}").as_str())
        );
        assert!(call.body.is_empty());
    }
    // The HTTP status is not what stops a job: a 500 with code 200, or a 200 that is not
    // JSON, and the calls go on.
    w.sink
        .script_answer("/hook", 500, r#"{"code": 200}"#, Duration::ZERO);
    w.sink
        .script_answer("/hook", 200, "not json", Duration::ZERO);
    let seen = w.sink.calls("/hook").len();
    w.sink.wait_for("/hook", seen + 3, WAIT).await;
    w.send("DELETE", &format!("/cronjobs/{id}"), None).await;

    // request_timeout: a call slower than it is abandoned, and failed (no retries).
    w.sink
        .script_answer("/slow", 200, "", Duration::from_secs(3));
    let (spec, _) = once_in(Duration::from_secs(2));
    let (_, slow) = w
        .json(
            "POST",
            "/cronjobs",
            json!({"url": w.sink.url("/slow"), "expression": spec, "request_timeout": 1}),
        )
        .await;
    let failed = ontime_testkit::eventually(WAIT, "a failed attempt", || async {
        w.executions("cronhubot", id_of(&slow))
            .await
            .into_iter()
            .find(|e| e["outcome"] == "failed")
    })
    .await;
    assert!(
        failed["error"].as_str().unwrap().contains("timeout"),
        "{failed}"
    );
    assert_eq!(
        w.sink
            .settled("/slow", Duration::from_millis(1_500), WAIT)
            .await,
        1
    );
    let (_, counted) = w.get(&format!("/cronjobs/{}", id_of(&slow))).await;
    assert_eq!(
        (&counted["runs"], &counted["failures"]),
        (&json!(1), &json!(1))
    );

    // retries: real retries of the same occurrence.
    w.sink.script("/flaky", &[500, 500]);
    let (spec, _) = once_in(Duration::from_secs(2));
    w.json(
        "POST",
        "/cronjobs",
        json!({"url": w.sink.url("/flaky"), "expression": spec, "retries": 2}),
    )
    .await;
    let calls = w.sink.wait_for("/flaky", 3, WAIT).await;
    let attempts: Vec<_> = calls
        .iter()
        .map(|c| c.header("ontime-attempt").unwrap().to_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_with_code_400_stops_the_job_at_once() {
    let w = World::start().await;
    // Several jobs at once, each told to stop on its second call: none gets a third.
    let mut jobs = Vec::new();
    for n in 0..4 {
        let path = format!("/stop-{n}");
        w.sink.script_answer(
            &path,
            200,
            r#"{"code": 200, "message": "OK"}"#,
            Duration::ZERO,
        );
        w.sink.script_answer(
            &path,
            200,
            r#"{"code": 400, "message": "enough"}"#,
            Duration::ZERO,
        );
        let (code, job) = w
            .json(
                "POST",
                "/cronjobs",
                json!({"url": w.sink.url(&path), "expression": "* * * * * *"}),
            )
            .await;
        assert_eq!(code, 201);
        jobs.push((path, id_of(&job)));
    }
    for (path, id) in &jobs {
        w.sink.wait_for(path, 2, WAIT).await;
        assert_eq!(
            w.sink
                .settled(path, Duration::from_millis(1_500), WAIT)
                .await,
            2,
            "{path} was called after it said stop"
        );
        let (_, job) = w.get(&format!("/cronjobs/{id}")).await;
        assert_eq!(job["status"], 99, "{job}");
    }
    let (_, listed) = w.get("/cronjobs").await;
    assert_eq!(listed, json!([]), "a stopped job leaves the list");

    // Active again: it fires again.
    let (path, id) = &jobs[0];
    let (code, again) = w
        .json("PATCH", &format!("/cronjobs/{id}"), json!({"status": 1}))
        .await;
    assert_eq!((code, &again["status"]), (200, &json!(1)), "{again}");
    w.sink.wait_for(path, 3, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stops_after_stop_at_and_an_inactive_one_never_fires() {
    let w = World::start().await;
    let (_, expiring) = w
        .json(
            "POST",
            "/cronjobs",
            json!({"url": w.sink.url("/expiring"), "expression": "* * * * * *",
                                          "stop_at": in_secs(3)}),
        )
        .await;
    let (_, inactive) = w
        .json(
            "POST",
            "/cronjobs",
            json!({"url": w.sink.url("/inactive"), "expression": "* * * * * *",
                                          "status": 9}),
        )
        .await;
    w.sink.wait_for("/expiring", 1, WAIT).await;
    let made = w
        .sink
        .settled("/expiring", Duration::from_millis(2_000), WAIT)
        .await;
    let stop_at: NaiveDateTime =
        NaiveDateTime::parse_from_str(expiring["stop_at"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S")
            .unwrap();
    for call in w.sink.calls("/expiring") {
        assert!(
            call.at.naive_utc() < stop_at + chrono::Duration::seconds(1),
            "called after stop_at"
        );
    }
    assert!(made >= 1);
    let (_, job) = w.get(&format!("/cronjobs/{}", id_of(&expiring))).await;
    assert_eq!(job["status"], 99);
    let (_, listed) = w.get("/cronjobs").await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|j| id_of(j) != id_of(&expiring))
    );
    assert!(
        w.sink.calls("/inactive").is_empty(),
        "an inactive job fired"
    );
    assert_eq!(
        w.native("cronhubot", id_of(&inactive)).await["status"],
        "paused"
    );
}
