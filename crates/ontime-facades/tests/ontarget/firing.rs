//! What the subscribers get when an event fires: one request each, with their method, the
//! event's bytes and Content-Type, to their URL as given; retries only when asked, for the
//! failed subscribers only; nothing from an event or a topic deleted.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontime_testkit::eventually;

use super::{Body, WAIT, World, in_secs};

/// How long without a new call counts as "no more calls": well over the retry waits and the
/// timeouts in play.
const QUIET: Duration = Duration::from_secs(4);

fn instant(spec: &str) -> DateTime<Utc> {
    spec.parse().unwrap()
}

/// Waits until event `id` of `topic` is out of the listing.
async fn gone_from_list(w: &World, topic: &str, id: &str) {
    let path = format!("/schedule/topics/{topic}/events");
    eventually(WAIT, "the event to leave the listing", || async {
        (!w.ids(&path).await.contains(&id.to_owned())).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscriber_gets_one_request_with_its_method_and_the_events_bytes() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    w.subscriber(&topic, "/get?a=1&b=%20x", &[]).await;
    w.subscriber(&topic, "/post", &[("method", "POST")]).await;
    w.subscriber(&topic, "/put", &[("method", "put")]).await;
    // Every byte, 0x80 and above included, as sent.
    let body: Vec<u8> = [b"caf\xc3\xa9 \x00\x80\xff".as_slice(), "wörld".as_bytes()].concat();
    let at = in_secs(3);
    let id = w
        .event(
            &topic,
            &at,
            Body::Raw(Some("application/x-ontarget; charset=latin1"), body.clone()),
        )
        .await
        .created();

    let mut calls = Vec::new();
    for (path, method) in [("/get", "GET"), ("/post", "POST"), ("/put", "PUT")] {
        let call = w.sink.wait_for(path, 1, WAIT).await.remove(0);
        assert_eq!(call.method.as_str(), method);
        calls.push((path, call));
    }
    for (path, call) in &calls {
        assert!(call.at >= instant(&at), "{path} called before its instant");
        assert_eq!(call.body.as_ref(), body.as_slice(), "{path}");
        assert_eq!(
            call.header("content-type"),
            Some("application/x-ontarget; charset=latin1"),
            "{path}"
        );
    }
    assert_eq!(
        calls[0].1.query.as_deref(),
        Some("a=1&b=%20x"),
        "the URL unchanged"
    );
    assert_eq!(calls[1].1.query, None);

    // A one-time event fires once, then leaves the listing and can no longer be read.
    gone_from_list(&w, &topic, &id).await;
    w.get(&format!("/schedule/topics/{topic}/events/{id}"))
        .await
        .is(404, &format!("NO EVENT: {id}"));
    for path in ["/get", "/post", "/put"] {
        assert_eq!(w.sink.settled(path, QUIET, WAIT).await, 1, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_body_nor_a_content_type_none_is_sent() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    w.subscriber(&topic, "/bare-get", &[]).await;
    w.subscriber(&topic, "/bare-post", &[("method", "POST")])
        .await;
    w.event(&topic, &in_secs(2), Body::Raw(None, Vec::new()))
        .await
        .created();
    for call in [
        w.sink.wait_for("/bare-get", 1, WAIT).await,
        w.sink.wait_for("/bare-post", 1, WAIT).await,
    ] {
        assert_eq!(call[0].header("content-type"), None);
        assert!(call[0].body.is_empty());
    }
    // An empty body with a Content-Type: the type is sent.
    let typed = w.topic("typed").await;
    w.subscriber(&typed, "/empty", &[]).await;
    w.event(
        &typed,
        &in_secs(2),
        Body::Raw(Some("text/plain"), Vec::new()),
    )
    .await
    .created();
    let call = w.sink.wait_for("/empty", 1, WAIT).await.remove(0);
    assert_eq!(call.header("content-type"), Some("text/plain"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_failed_subscribers_are_retried_and_only_when_asked() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    w.sink.script("/asked", &[500, 500]);
    w.sink.script("/not-asked", &[500, 500]);
    // An answer later than the default 1 s timeout is a failure too.
    w.sink
        .script_answer("/slow", 200, "", Duration::from_secs(3));
    w.sink
        .script_answer("/patient", 200, "", Duration::from_secs(3));
    w.subscriber(&topic, "/asked", &[("retries", "2")]).await;
    w.subscriber(&topic, "/not-asked", &[]).await;
    w.subscriber(&topic, "/slow", &[("retries", "1")]).await;
    w.subscriber(&topic, "/patient", &[("retries", "1"), ("timeout", "10")])
        .await;
    w.subscriber(&topic, "/fine", &[]).await;
    w.event(
        &topic,
        &in_secs(2),
        Body::Raw(Some("text/plain"), b"x".to_vec()),
    )
    .await
    .created();

    w.sink.wait_for("/asked", 3, WAIT).await;
    w.sink.wait_for("/slow", 2, WAIT).await;
    for (path, calls) in [
        ("/asked", 3),
        ("/not-asked", 1),
        ("/slow", 2),
        ("/patient", 1),
        ("/fine", 1),
    ] {
        assert_eq!(w.sink.settled(path, QUIET, WAIT).await, calls, "{path}");
    }
    let retried = w.sink.calls("/asked");
    assert!(
        retried.iter().all(|c| c.body.as_ref() == b"x"),
        "every attempt the same body"
    );

    // An event's retries hold for the subscribers that set none of their own.
    let other = w.topic("other").await;
    w.sink.script("/event-retries", &[500]);
    w.sink.script("/own-retries", &[500]);
    w.subscriber(&other, "/event-retries", &[]).await;
    w.subscriber(&other, "/own-retries", &[("retries", "0")])
        .await;
    w.event(&other, &format!("{}?retries=1", in_secs(2)), Body::None)
        .await
        .created();
    w.sink.wait_for("/event-retries", 2, WAIT).await;
    assert_eq!(w.sink.settled("/event-retries", QUIET, WAIT).await, 2);
    assert_eq!(w.sink.settled("/own-retries", QUIET, WAIT).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeating_event_fires_again_until_deleted() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    w.subscriber(&topic, "/tick", &[("method", "POST")]).await;
    let start = in_secs(2);
    let id = w
        .event(
            &topic,
            &format!("R/{start}/PT2S"),
            Body::Raw(Some("text/plain"), b"tick".to_vec()),
        )
        .await
        .created();
    let calls = w.sink.wait_for("/tick", 2, WAIT).await;
    assert!(calls[0].at >= instant(&start));
    assert!(calls[1].at >= instant(&start) + chrono::Duration::seconds(2));
    assert!(calls.iter().all(|c| c.body.as_ref() == b"tick"));
    assert_eq!(
        w.ids(&format!("/schedule/topics/{topic}/events")).await,
        vec![id.clone()]
    );

    w.send(
        "DELETE",
        &format!("/schedule/topics/{topic}/events/{id}"),
        Body::None,
    )
    .await
    .is(200, &format!("REMOVED: {id}"));
    let seen = w.sink.settled("/tick", Duration::from_secs(1), WAIT).await;
    // Three periods: a deleted event never fires afterwards.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(w.sink.calls("/tick").len(), seen);
    w.get(&format!("/schedule/topics/{topic}/events"))
        .await
        .is(200, "[]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_event_deleted_before_its_instant_never_fires() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    w.subscriber(&topic, "/deleted", &[]).await;
    let control = w.topic("control").await;
    w.subscriber(&control, "/control", &[]).await;
    let at = in_secs(3);
    let id = w.event(&topic, &at, Body::None).await.created();
    w.event(&control, &at, Body::None).await.created();
    w.send(
        "DELETE",
        &format!("/schedule/topics/{topic}/events/{id}"),
        Body::None,
    )
    .await
    .is(200, &format!("REMOVED: {id}"));
    // The event due at the same instant fires; the deleted one never does.
    w.sink.wait_for("/control", 1, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(w.sink.calls("/deleted").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_topic_stops_its_events() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    w.subscriber(&topic, "/topic-tick", &[]).await;
    let every = w
        .event(&topic, &format!("R/{}/PT2S", in_secs(2)), Body::None)
        .await
        .created();
    let later = w.event(&topic, &in_secs(3600), Body::None).await.created();
    w.sink.wait_for("/topic-tick", 1, WAIT).await;

    w.send("DELETE", &format!("/schedule/topics/{topic}"), Body::None)
        .await
        .is(200, &format!("REMOVED: {topic}"));
    for id in [&every, &later] {
        w.get(&format!("/schedule/topics/{topic}/events/{id}"))
            .await
            .is(404, &format!("NO EVENT: {id}"));
        assert_eq!(
            w.native(&format!("/timers/{id}")).await.unwrap()["status"],
            "cancelled"
        );
    }
    w.get(&format!("/schedule/topics/{topic}/events"))
        .await
        .is(200, "[]");
    w.get(&format!("/schedule/topics/{topic}/subscribers"))
        .await
        .is(200, "[]");
    let seen = w
        .sink
        .settled("/topic-tick", Duration::from_secs(1), WAIT)
        .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(w.sink.calls("/topic-tick").len(), seen);
}
