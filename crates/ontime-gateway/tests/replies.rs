//! The gateway with a stand-in scheduler: replies are routed to their requests, concurrent
//! requests each get their own, a retry is answered what its first request got, and batches, pages,
//! conflicts and cancellation come back as the scheduler applied them.

mod common;

use common::{Gateway, Nats, named, patient, send, timer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_routed_to_their_requests() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, patient()).await;
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

    let mut items = named("b", 50);
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
