//! Events: creating them from timespecs, reading and listing them, deleting them.

use serde_json::{Value, json};

use super::{Body, NS, World, in_secs};

/// The keys of a JSON object as written, in order.
#[derive(Debug, PartialEq)]
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> serde::de::Visitor<'de> for InOrder {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(InOrder)
    }
}

impl PartialEq<[&str]> for Keys {
    fn eq(&self, other: &[&str]) -> bool {
        self.0.iter().map(String::as_str).eq(other.iter().copied())
    }
}

/// The keys of the object `text` is, in order.
fn keys(text: &str) -> Keys {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_created_from_timespecs_and_shown_as_the_original_showed_them() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    let base = format!("/schedule/topics/{topic}");
    w.get(&format!("{base}/events")).await.is(200, "[]");

    let at = in_secs(3600);
    let once = w
        .event(
            &topic,
            &at,
            Body::Raw(
                Some("text/plain; charset=utf-8"),
                "wörld".as_bytes().to_vec(),
            ),
        )
        .await
        .created();
    let every = w
        .event(
            &topic,
            "R/2016-05-03T11:22:33Z/P1D",
            Body::Raw(None, Vec::new()),
        )
        .await
        .created();

    let reply = w.get(&format!("{base}/events/{once}")).await;
    assert_eq!(
        keys(&reply.text),
        *["id", "next", "topic", "data", "timestamp", "contentType"].as_slice()
    );
    let shown = reply.json();
    let next: i64 = shown["next"].as_str().unwrap().parse().unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(&at)
        .unwrap()
        .timestamp();
    assert_eq!(
        next, due,
        "next is the instant in Unix seconds, as a string"
    );
    assert_eq!(
        (
            &shown["topic"],
            &shown["data"],
            &shown["timestamp"],
            &shown["contentType"]
        ),
        (
            &json!(topic),
            &json!("wörld"),
            &json!(at),
            &json!("text/plain; charset=utf-8")
        )
    );
    let reply = w.get(&format!("{base}/events/{every}")).await;
    assert_eq!(
        keys(&reply.text),
        *["id", "next", "topic", "data", "interval"].as_slice()
    );
    let repeating = reply.json();
    assert_eq!(
        (&repeating["data"], &repeating["interval"]),
        (&json!(""), &json!("R/2016-05-03T11:22:33Z/P1D"))
    );
    let next: i64 = repeating["next"].as_str().unwrap().parse().unwrap();
    assert!(
        next > chrono::Utc::now().timestamp(),
        "the next occurrence is to come"
    );
    assert_eq!(next % 86_400, 11 * 3600 + 22 * 60 + 33);

    // The listing: always six keys, null for those an event has not, never the data.
    let reply = w.get(&format!("{base}/events")).await;
    let in_order: Vec<Keys> = serde_json::from_str(&reply.text).unwrap();
    assert_eq!(in_order.len(), 2);
    for item in &in_order {
        assert_eq!(
            *item,
            *[
                "id",
                "next",
                "topic",
                "interval",
                "timestamp",
                "contentType"
            ]
            .as_slice()
        );
    }
    let listed = reply.json();
    let items = listed.as_array().unwrap();
    let item = |id: &str| items.iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(item(&once)["interval"], Value::Null);
    assert_eq!(item(&once)["timestamp"], json!(at));
    assert_eq!(item(&every)["timestamp"], Value::Null);
    assert_eq!(item(&every)["contentType"], Value::Null);

    // Native timers of the facade's namespace, aimed at the topic.
    let native = w.native(&format!("/timers/{every}")).await.unwrap();
    assert_eq!(native["target"]["topic"]["name"], json!(topic));
    assert_eq!(native["schedule"]["misfire"], "skip");
    assert_eq!(native["metadata"]["facade"], "ontarget");

    // An event is read by its own id, whatever the topic in the path.
    assert_eq!(
        w.get(&format!("/schedule/topics/elsewhere/events/{once}"))
            .await
            .json()["id"],
        json!(once)
    );
    // Pages.
    let page = w.get(&format!("{base}/events?limit=1")).await;
    assert_eq!(page.json().as_array().unwrap().len(), 1);
    assert!(page.headers.contains_key("link"));

    w.send("DELETE", &format!("{base}/events/{once}"), Body::None)
        .await
        .is(200, &format!("REMOVED: {once}"));
    w.get(&format!("{base}/events/{once}"))
        .await
        .is(404, &format!("NO EVENT: {once}"));
    w.send("DELETE", &format!("{base}/events/{once}"), Body::None)
        .await
        .is(404, &format!("NOT REMOVED: {once}"));
    assert_eq!(w.ids(&format!("{base}/events")).await, vec![every]);
    assert_eq!(
        w.native(&format!("/timers/{once}")).await.unwrap()["status"],
        "cancelled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_timespecs_and_settings() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    for spec in [
        "R3/2030-05-03T11:22:33Z/P1D",
        "R/P1D/2031-01-01T00:00:00Z",
        "R/2030-05-03T11:22:33Z/2030-05-03T12:22:33Z",
        "R--2030-05-03T11:22:33Z--PT1H",
        "R/PT1H",
        "2030-W18-2T11:22",
        "2030-123",
        "2030-05-03%2011:22:33%2B02:00",
    ] {
        w.event(&topic, spec, Body::None).await.created();
    }
    let id = w
        .event(
            &topic,
            &format!("{}?retries=2&max_lateness=30", in_secs(3600)),
            Body::None,
        )
        .await
        .created();
    let shown = w
        .get(&format!("/schedule/topics/{topic}/events/{id}"))
        .await
        .json();
    assert_eq!(
        (&shown["retries"], &shown["max_lateness"]),
        (&json!("2"), &json!("30"))
    );
    let native = w.native(&format!("/timers/{id}")).await.unwrap();
    assert_eq!(native["retry"]["max_attempts"], 3);
    assert_eq!(native["schedule"]["max_lateness"], "30s");
    let spaced = w.ids(&format!("/schedule/topics/{topic}/events")).await;
    assert_eq!(spaced.len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_are_refused_in_the_originals_words_and_store_nothing() {
    let w = World::start().await;
    let topic = w.topic("t").await;
    let past = "2016-05-03T11:22:33Z";
    let cases = [
        (past.to_owned(), 400, format!("Time specification is in the past: {past}")),
        (
            "R3/2016-05-03T11:22:33Z/P1D".to_owned(),
            400,
            "ISO-8601 interval specification's last recurrence is in the past: R3/2016-05-03T11:22:33Z/P1D".to_owned(),
        ),
        (
            "R/garbage/P1D".to_owned(),
            400,
            "Invalid ISO-8601 interval specification: R/garbage/P1D".to_owned(),
        ),
        ("".to_owned(), 400, "INTERVAL OR TIME REQUIRED".to_owned()),
        ("garbage".to_owned(), 400, "Invalid time specification: garbage".to_owned()),
        (
            format!("{}?retries=-1", in_secs(3600)),
            400,
            "INVALID RETRIES: -1".to_owned(),
        ),
        (
            format!("{}?max_lateness=0", in_secs(3600)),
            400,
            "INVALID MAX_LATENESS: 0".to_owned(),
        ),
    ];
    for (spec, status, text) in cases {
        w.event(&topic, &spec, Body::Raw(Some("text/plain"), b"x".to_vec()))
            .await
            .is(status, &text);
    }
    let reply = w.event(&topic, "garbage%FF", Body::None).await;
    reply.is(400, "INVALID PATH");
    let unknown = "0bc52d28-27cd-42b4-a726-3c0e5ff5ae9f";
    w.event(unknown, &in_secs(3600), Body::None)
        .await
        .is(404, &format!("NO TOPIC: {unknown}"));
    let too_big = vec![0u8; 300 * 1024];
    w.event(
        &topic,
        &in_secs(3600),
        Body::Raw(Some("application/x-raw"), too_big),
    )
    .await
    .is(413, "PAYLOAD TOO LARGE");

    let missing = "6fa459ea-ee8a-4ca4-894e-db77e160355e";
    w.get(&format!("/schedule/topics/{topic}/events/{missing}"))
        .await
        .is(404, &format!("NO EVENT: {missing}"));
    w.send(
        "DELETE",
        &format!("/schedule/topics/{topic}/events/{missing}"),
        Body::None,
    )
    .await
    .is(404, &format!("NOT REMOVED: {missing}"));
    w.get(&format!("/schedule/topics/{topic}/events"))
        .await
        .is(200, "[]");
    assert_eq!(w.timers().await, 0, "nothing stored in {NS}");
}
