//! Subscribers of a topic.

use std::collections::BTreeSet;

use serde_json::json;

use super::{Body, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_are_created_read_replaced_listed_and_removed() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    let base = format!("/schedule/topics/{topic}/subscribers");
    w.get(&base).await.is(200, "[]");

    let uri = w.sink.url("/hook?a=1");
    let id = w
        .send("POST", &base, Body::Form(&[("uri", uri.as_str())]))
        .await
        .created();
    let shown = w.get(&format!("{base}/{id}")).await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.json(),
        json!({"id": id, "uri": uri, "topic": topic, "method": "GET"}),
        "the method defaults to GET"
    );
    // A native subscriber of the native topic, calling the URI with a 1 s timeout.
    let native = w
        .native(&format!("/topics/{topic}/subscribers/{id}"))
        .await
        .unwrap();
    assert_eq!(native["target"]["http"]["url"], uri);
    assert_eq!(native["target"]["http"]["timeout"], "1s");
    assert!(native.get("retry").is_none(), "no retry unless asked");

    // JSON, with the settings the original had on its to-do list.
    let other = w.sink.url("/other");
    let second = w
        .send(
            "POST",
            &base,
            Body::Json(json!({"uri": other, "method": "post", "timeout": 2.5, "retries": 3})),
        )
        .await
        .created();
    assert_eq!(
        w.get(&format!("{base}/{second}")).await.json(),
        json!({"id": second, "uri": other, "topic": topic, "method": "POST",
               "timeout": "2.5", "retries": "3"})
    );
    let listed: BTreeSet<String> = w.ids(&base).await.into_iter().collect();
    assert_eq!(listed, BTreeSet::from([id.clone(), second.clone()]));

    // A PUT replaces the whole subscriber: the method not given is GET again.
    w.send(
        "PUT",
        &format!("{base}/{second}"),
        Body::Form(&[("uri", uri.as_str())]),
    )
    .await
    .is(200, &format!("UPDATED: {second}"));
    assert_eq!(
        w.get(&format!("{base}/{second}")).await.json(),
        json!({"id": second, "uri": uri, "topic": topic, "method": "GET"})
    );

    w.send("DELETE", &format!("{base}/{id}"), Body::None)
        .await
        .is(200, &format!("REMOVED: {id}"));
    w.send("DELETE", &format!("{base}/{id}"), Body::None)
        .await
        .is(404, &format!("NOT REMOVED: {id}"));
    w.get(&format!("{base}/{id}"))
        .await
        .is(404, &format!("NO SUBSCRIBER: {id}"));
    assert_eq!(w.ids(&base).await, vec![second.clone()]);

    // Pages, by id.
    let third = w.subscriber(&topic, "/third", &[]).await;
    let page = w.get(&format!("{base}?limit=1")).await;
    assert_eq!(page.json().as_array().unwrap().len(), 1);
    assert!(page.headers.contains_key("link"));
    let all: BTreeSet<String> = w.ids(&base).await.into_iter().collect();
    assert_eq!(all, BTreeSet::from([second, third]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscribers_are_refused_in_the_originals_words_and_store_nothing() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    let base = format!("/schedule/topics/{topic}/subscribers");
    let uri = w.sink.url("/hook");
    for (body, text) in [
        (Body::Form(&[("method", "POST")]), "URI REQUIRED".to_owned()),
        (Body::Form(&[("uri", "")]), "URI REQUIRED".to_owned()),
        (Body::Json(json!({"uri": null})), "URI REQUIRED".to_owned()),
        (
            Body::Raw(Some("application/json"), Vec::new()),
            "URI REQUIRED".to_owned(),
        ),
        (
            Body::Form(&[("uri", "ftp://x.test/a")]),
            "INVALID URI: ftp://x.test/a".to_owned(),
        ),
        (
            Body::Form(&[("uri", uri.as_str()), ("method", "BREW")]),
            "INVALID METHOD: BREW".to_owned(),
        ),
        (
            Body::Form(&[("uri", uri.as_str()), ("timeout", "0")]),
            "INVALID TIMEOUT: 0".to_owned(),
        ),
        (
            Body::Form(&[("uri", uri.as_str()), ("retries", "100")]),
            "INVALID RETRIES: 100".to_owned(),
        ),
        (
            Body::Raw(Some("application/json"), b"[1".to_vec()),
            "INVALID BODY".to_owned(),
        ),
    ] {
        w.send("POST", &base, body).await.is(400, &text);
    }
    w.get(&base).await.is(200, "[]");

    // A topic that does not exist has no subscribers, and gets none.
    let unknown = "0bc52d28-27cd-42b4-a726-3c0e5ff5ae9f";
    let elsewhere = format!("/schedule/topics/{unknown}/subscribers");
    w.get(&elsewhere).await.is(200, "[]");
    w.send("POST", &elsewhere, Body::Form(&[("uri", uri.as_str())]))
        .await
        .is(404, &format!("NO TOPIC: {unknown}"));

    // A subscriber is found under its own topic only.
    let id = w.subscriber(&topic, "/hook", &[]).await;
    w.get(&format!("{elsewhere}/{id}"))
        .await
        .is(404, &format!("NO SUBSCRIBER: {id}"));
    w.send(
        "PUT",
        &format!("{elsewhere}/{id}"),
        Body::Form(&[("uri", uri.as_str())]),
    )
    .await
    .is(400, &format!("CREATE FIRST: {id}"));
    w.send("DELETE", &format!("{elsewhere}/{id}"), Body::None)
        .await
        .is(404, &format!("NOT REMOVED: {id}"));
    w.send(
        "PUT",
        &format!("{base}/{unknown}"),
        Body::Form(&[("uri", uri.as_str())]),
    )
    .await
    .is(400, &format!("CREATE FIRST: {unknown}"));
    // A replacement that is refused leaves the subscriber as it was.
    for (fields, text) in [
        (&[("method", "POST")][..], "URI REQUIRED".to_owned()),
        (
            &[("uri", uri.as_str()), ("method", "BREW")][..],
            "INVALID METHOD: BREW".to_owned(),
        ),
    ] {
        w.send("PUT", &format!("{base}/{id}"), Body::Form(fields))
            .await
            .is(400, &text);
    }
    assert_eq!(
        w.get(&format!("{base}/{id}")).await.json(),
        json!({"id": id, "uri": uri, "topic": topic, "method": "GET"})
    );
    assert_eq!(w.ids(&base).await, vec![id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_uri_show_redacted() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    let base = format!("/schedule/topics/{topic}/subscribers");
    let id = w
        .send(
            "POST",
            &base,
            Body::Form(&[("uri", "https://user:secret@hooks.example.com/a")]),
        )
        .await
        .created();
    assert_eq!(
        w.get(&format!("{base}/{id}")).await.json()["uri"],
        "https://user:***@hooks.example.com/a"
    );
}
