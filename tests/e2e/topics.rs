//! Topics and fan-out, and NATS-subject targets: a topic's subscribers are managed through
//! the API; a timer whose target is a topic delivers each occurrence to every subscriber the
//! topic has when it fires, each on its own (its own delivery id, retries and log entries);
//! a timer (or a subscriber) may publish on a NATS subject instead of calling a URL.

use std::time::Duration;

use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use ontime_testkit::{NatsServer, Ontime, Sink, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

struct World {
    nats: NatsServer,
    o: Ontime,
    sink: Sink,
}

impl World {
    async fn start(workers: usize) -> Self {
        let nats = NatsServer::start().await;
        let o = Ontime::start(&nats.url(), 1, workers).await;
        Self {
            nats,
            o,
            sink: Sink::start().await,
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.o.http.request(method, self.o.api(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn timer(&self, ns: &str, id: &str) -> Value {
        self.send("GET", &format!("/namespaces/{ns}/timers/{id}"), None)
            .await
            .1
    }

    async fn log(&self, ns: &str, id: &str) -> Vec<Value> {
        let (_, page) = self
            .send(
                "GET",
                &format!("/namespaces/{ns}/timers/{id}/executions?limit=100"),
                None,
            )
            .await;
        page["items"].as_array().cloned().unwrap_or_default()
    }

    async fn subscribe(&self, ns: &str, topic: &str, sub: &str, spec: Value) {
        let (code, answer) = self
            .send(
                "PUT",
                &format!("/namespaces/{ns}/topics/{topic}/subscribers/{sub}"),
                Some(spec),
            )
            .await;
        assert!(matches!(code, 200 | 201), "{code} {answer}");
    }

    /// Waits until the timer is `status`.
    async fn settled(&self, ns: &str, id: &str, status: &str) -> Value {
        eventually(WAIT, &format!("{id} to be {status}"), || async {
            let t = self.timer(ns, id).await;
            (t["status"] == status).then_some(t)
        })
        .await
    }
}

fn in_ms(ms: i64) -> String {
    (Utc::now() + chrono::Duration::milliseconds(ms)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_subscribers_are_managed_through_the_api() {
    let w = World::start(0).await;
    let (code, topic) = w
        .send(
            "PUT",
            "/namespaces/shop/topics/orders",
            Some(json!({"description": "new orders", "metadata": {"team": "a"}})),
        )
        .await;
    assert_eq!(code, 201, "{topic}");
    assert_eq!(
        (&topic["name"], &topic["subscribers"]),
        (&json!("orders"), &json!(0))
    );
    let (code, again) = w
        .send(
            "PUT",
            "/namespaces/shop/topics/orders",
            Some(json!({"description": "orders"})),
        )
        .await;
    assert_eq!((code, &again["description"]), (200, &json!("orders")));
    assert_eq!(again["created_at"], topic["created_at"]);
    for name in ["a1", "a2"] {
        w.send(
            "PUT",
            &format!("/namespaces/shop/topics/{name}"),
            Some(json!({})),
        )
        .await;
    }
    let (_, page) = w.send("GET", "/namespaces/shop/topics?limit=2", None).await;
    let names: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("a1"), json!("a2")]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = w
        .send(
            "GET",
            &format!("/namespaces/shop/topics?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest["items"][0]["name"], "orders");
    assert!(rest["next_cursor"].is_null());

    let (code, _) = w
        .send(
            "PUT",
            "/namespaces/shop/topics/nope/subscribers/s",
            Some(json!({"target": {"nats": {"subject": "x"}}})),
        )
        .await;
    assert_eq!(code, 404, "a subscriber needs its topic");
    let (code, sub) = w
        .send(
            "PUT",
            "/namespaces/shop/topics/orders/subscribers/billing",
            Some(json!({
            "target": {"http": {"url": "https://user:secret@billing.test/hook", "method": "put"}},
            "retry": {"max_attempts": 2}})),
        )
        .await;
    assert_eq!(code, 201, "{sub}");
    assert_eq!(
        sub["target"]["http"]["url"],
        "https://user:***@billing.test/hook"
    );
    assert_eq!(sub["target"]["http"]["method"], "PUT");
    let refusals = [
        (
            json!({"target": {"http": {"url": "http://x.test/", "body": {"a": 1}}}}),
            "target.http.body",
        ),
        (
            json!({"target": {"http": {"url": "http://x.test/"}, "nats": {"subject": "a"}}}),
            "target",
        ),
        (
            json!({"target": {"nats": {"subject": "a.*"}}}),
            "target.nats.subject",
        ),
        (
            json!({"target": {"nats": {"subject": "$JS.API.x"}}}),
            "target.nats.subject",
        ),
        (json!({"target": {}}), "target"),
    ];
    for (body, field) in refusals {
        let (code, e) = w
            .send(
                "PUT",
                "/namespaces/shop/topics/orders/subscribers/bad",
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (code, e["field"].as_str()),
            (422, Some(field)),
            "{body}: {e}"
        );
    }
    w.subscribe(
        "shop",
        "orders",
        "audit",
        json!({"target": {"nats": {"subject": "audit.orders"}}}),
    )
    .await;
    let (_, subs) = w
        .send(
            "GET",
            "/namespaces/shop/topics/orders/subscribers?limit=1",
            None,
        )
        .await;
    assert_eq!(subs["items"][0]["id"], "audit");
    assert_eq!(subs["next_cursor"], "audit");
    let (_, topic) = w.send("GET", "/namespaces/shop/topics/orders", None).await;
    assert_eq!(topic["subscribers"], 2, "{topic}");

    let (code, _) = w
        .send(
            "DELETE",
            "/namespaces/shop/topics/orders/subscribers/audit",
            None,
        )
        .await;
    assert_eq!(code, 204);
    let (code, _) = w
        .send(
            "DELETE",
            "/namespaces/shop/topics/orders/subscribers/audit",
            None,
        )
        .await;
    assert_eq!(code, 404);
    let (code, _) = w
        .send(
            "GET",
            "/namespaces/shop/topics/orders/subscribers/billing",
            None,
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = w
        .send("DELETE", "/namespaces/shop/topics/orders", None)
        .await;
    assert_eq!(code, 204);
    for path in [
        "/namespaces/shop/topics/orders",
        "/namespaces/shop/topics/orders/subscribers/billing",
    ] {
        let (code, _) = w.send("GET", path, None).await;
        assert_eq!(code, 404, "{path}");
    }
    // Created again, it starts without subscribers.
    let (code, topic) = w
        .send("PUT", "/namespaces/shop/topics/orders", Some(json!({})))
        .await;
    assert_eq!((code, &topic["subscribers"]), (201, &json!(0)));
    let (code, e) = w
        .send("PUT", "/namespaces/shop/topics/a%2Fb", Some(json!({})))
        .await;
    assert_eq!((code, e["field"].as_str()), (422, Some("topic")));
    let (code, e) = w
        .send(
            "PUT",
            "/namespaces/shop/topics/t",
            Some(json!({"subscribers": []})),
        )
        .await;
    assert_eq!(code, 422, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscriber_gets_its_own_delivery_and_only_the_failed_one_is_retried() {
    let w = World::start(1).await;
    w.send("PUT", "/namespaces/fan/topics/t", Some(json!({})))
        .await;
    for (sub, method) in [("a", "GET"), ("b", "POST"), ("c", "PUT")] {
        w.subscribe("fan", "t", sub, json!({"target": {"http": {"url": w.sink.url(&format!("/{sub}")), "method": method}},
                                           "retry": {"max_attempts": 3, "initial_interval": "200ms"}}))
            .await;
    }
    w.sink.script("/c", &[500, 500]);
    let raw: Vec<u8> = vec![0x00, 0x7f, 0x80, 0xc3, 0x28, 0xff, b'o', b'k'];
    let (code, timer) = w
        .send("PUT", "/namespaces/fan/timers/once", Some(json!({
            "schedule": {"at": in_ms(1_000)},
            "target": {"topic": {"name": "t", "content_type": "application/x-raw",
                                 "body_base64": base64::engine::general_purpose::STANDARD.encode(&raw),
                                 "headers": {"x-tenant": "7"}}}})))
        .await;
    assert_eq!(code, 200, "{timer}");
    let generation = timer["revision"].as_u64().unwrap();
    let done = w.settled("fan", "once", "succeeded").await;
    assert_eq!(
        (&done["successes"], &done["failures"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(
        (&done["deliveries"], &done["delivery_failures"]),
        (&json!(3), &json!(0))
    );
    assert_eq!(w.sink.calls("/a").len(), 1);
    assert_eq!(w.sink.calls("/b").len(), 1);
    let c = w.sink.calls("/c");
    assert_eq!(c.len(), 3, "only the failing subscriber is retried");
    let mut ids = Vec::new();
    for (sub, method) in [("a", "GET"), ("b", "POST"), ("c", "PUT")] {
        let call = &w.sink.calls(&format!("/{sub}"))[0];
        assert_eq!(call.method, method);
        assert_eq!(
            call.body.as_ref(),
            raw.as_slice(),
            "byte-exact body to {sub}"
        );
        assert_eq!(call.header("content-type"), Some("application/x-raw"));
        assert_eq!(call.header("x-tenant"), Some("7"));
        let id = call.header("webhook-id").unwrap().to_owned();
        assert!(
            id.starts_with("fan/once/") && id.ends_with(&format!("/1/{sub}")),
            "{id}"
        );
        ids.push(id);
    }
    let _ = generation;
    let attempts: Vec<_> = c
        .iter()
        .map(|call| call.header("ontime-attempt").unwrap().to_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert!(
        c.iter()
            .all(|call| call.header("webhook-id") == Some(ids[2].as_str()))
    );
    // The log: the fan-out, then each delivery under its subscriber.
    let log = w.log("fan", "once").await;
    let fanned: Vec<_> = log
        .iter()
        .filter(|e| e["outcome"] == "fanned_out")
        .collect();
    assert_eq!(fanned.len(), 1, "{log:?}");
    assert_eq!(fanned[0]["subscribers"], json!(["a", "b", "c"]));
    let of = |sub: &str| log.iter().filter(|e| e["subscriber"] == sub).count();
    assert_eq!((of("a"), of("b"), of("c")), (1, 1, 3));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        w.sink.calls("/a").len() + w.sink.calls("/b").len(),
        2,
        "the others were called once"
    );

    // A subscriber that fails for good fails the occurrence, and only it is counted failed.
    w.sink.script("/never", &[500, 500]);
    w.subscribe("fan", "t", "never", json!({"target": {"http": {"url": w.sink.url("/never")}},
                                            "retry": {"max_attempts": 2, "initial_interval": "100ms"}}))
        .await;
    w.send(
        "PUT",
        "/namespaces/fan/timers/twice",
        Some(json!({
        "schedule": {"at": in_ms(500)}, "target": {"topic": "t"}})),
    )
    .await;
    let failed = w.settled("fan", "twice", "failed").await;
    assert_eq!(
        (&failed["deliveries"], &failed["delivery_failures"]),
        (&json!(4), &json!(1))
    );
    assert_eq!(w.sink.calls("/never").len(), 2);
    // No body given: none sent, and no content type.
    let plain = w.sink.calls("/b");
    let last = plain.last().unwrap();
    assert!(last.body.is_empty());
    assert_eq!(last.header("content-type"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_are_read_as_they_are_when_each_occurrence_fires() {
    let w = World::start(1).await;
    w.send("PUT", "/namespaces/sub/topics/t", Some(json!({})))
        .await;
    w.subscribe(
        "sub",
        "t",
        "old",
        json!({"target": {"http": {"url": w.sink.url("/old")}}}),
    )
    .await;
    let (code, _) = w
        .send(
            "PUT",
            "/namespaces/sub/timers/tick",
            Some(json!({
            "schedule": {"every": "1s"}, "target": {"topic": {"name": "t", "body": {"n": 1}}}})),
        )
        .await;
    assert_eq!(code, 200);
    w.sink.wait_for("/old", 1, WAIT).await;
    w.subscribe(
        "sub",
        "t",
        "new",
        json!({"target": {"http": {"url": w.sink.url("/new")}}}),
    )
    .await;
    let (code, _) = w
        .send("DELETE", "/namespaces/sub/topics/t/subscribers/old", None)
        .await;
    assert_eq!(code, 204);
    let calls = w.sink.wait_for("/new", 2, WAIT).await;
    assert_eq!(calls[0].body.as_ref(), br#"{"n":1}"#);
    assert_eq!(calls[0].header("content-type"), Some("application/json"));
    // Deliveries to the removed subscriber that were under way end; no new ones start.
    let seen = w
        .sink
        .settled("/old", Duration::from_millis(1_500), WAIT)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.sink.calls("/old").len(),
        seen,
        "a removed subscriber was called"
    );
    let t = w.timer("sub", "tick").await;
    assert_eq!(t["failures"], 0, "{t}");
    // Deleting the topic fails the timer's next occurrences, named in the log.
    w.send("DELETE", "/namespaces/sub/topics/t", None).await;
    eventually(
        WAIT,
        "an occurrence to fail for want of its topic",
        || async {
            w.log("sub", "tick")
                .await
                .into_iter()
                .find(|e| e["outcome"] == "failed" && e["error"] == "topic t does not exist")
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_target_publishes_the_message_once_per_delivery() {
    let w = World::start(1).await;
    let client = async_nats::connect(w.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "EVENTS".into(),
            subjects: vec!["events.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    // A subject outside any stream: published plainly, to whoever listens then.
    let mut plain = client.subscribe("plain.due").await.unwrap();
    client.flush().await.unwrap();
    let (code, timer) = w
        .send("PUT", "/namespaces/bus/timers/due", Some(json!({
            "schedule": {"at": in_ms(800)},
            "target": {"nats": {"subject": "events.due", "body": {"invoice": 42}, "headers": {"x-kind": "due"}}}})))
        .await;
    assert_eq!(code, 200, "{timer}");
    w.send("PUT", "/namespaces/bus/timers/plain", Some(json!({
        "schedule": {"at": in_ms(800)}, "target": {"nats": {"subject": "plain.due", "body_base64": "AQID"}}}))).await;
    let done = w.settled("bus", "due", "succeeded").await;
    assert_eq!(done["last_result"]["outcome"], "succeeded");
    let message = stream
        .get_last_raw_message_by_subject("events.due")
        .await
        .unwrap();
    assert_eq!(message.payload.as_ref(), br#"{"invoice":42}"#);
    let headers = message.headers;
    let delivery = format!("bus/due/{}/1", done["last_result"]["generation"]);
    assert_eq!(
        headers.get("Nats-Msg-Id").map(|v| v.as_str()),
        Some(delivery.as_str())
    );
    assert_eq!(
        headers.get("Content-Type").map(|v| v.as_str()),
        Some("application/json")
    );
    assert_eq!(headers.get("x-kind").map(|v| v.as_str()), Some("due"));
    let got = tokio::time::timeout(WAIT, plain.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.payload.as_ref(), &[1, 2, 3]);
    w.settled("bus", "plain", "succeeded").await;

    // The same delivery made again (here a replay of it, which is made whatever the record
    // says; a fire delivered once more before its report was applied is made again the same
    // way) publishes the same Nats-Msg-Id: the stream stores it once.
    let again = ontime_core::fire::Fire {
        namespace: ontime_core::Namespace::parse("bus").unwrap(),
        id: ontime_core::TimerId::parse("due").unwrap(),
        generation: done["last_result"]["generation"].as_u64().unwrap(),
        occurrence: 1,
        attempt: 2,
        due_at: Utc::now(),
        occurrence_due_at: Utc::now(),
        triggered: false,
        subscriber: None,
        fan_out: 0,
        command: false,
        replay: true,
        trace: None,
    };
    w.o.topology.fires.store(&again).await.unwrap();
    eventually(WAIT, "the second delivery to be made", || async {
        w.log("bus", "due")
            .await
            .into_iter()
            .find(|e| e["attempt"] == 2)
    })
    .await;
    let stored = js
        .get_stream("EVENTS")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(
        stored, 1,
        "a delivery is stored once however often it is made"
    );

    // A copy of the fire that comes once the record says the occurrence has ended (delivered
    // again after its report) is settled without a call.
    let copy = ontime_core::fire::Fire {
        attempt: 3,
        replay: false,
        ..again
    };
    w.o.topology.fires.store(&copy).await.unwrap();
    let names = w.o.names();
    let workers: async_nats::jetstream::consumer::PullConsumer =
        w.o.topology
            .js
            .get_stream(names.fire_stream())
            .await
            .unwrap()
            .get_consumer(names.fire_consumer())
            .await
            .unwrap();
    eventually(WAIT, "the copy to be settled", || {
        let mut workers = workers.clone();
        async move {
            let info = workers.info().await.ok()?;
            (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
        }
    })
    .await;
    let log = w.log("bus", "due").await;
    assert!(
        log.iter().all(|e| e["attempt"] != 3),
        "called again: {log:?}"
    );

    // ontime's own subjects are not a target: a timer may not issue commands or fires.
    let own = format!("{}.cmd.bus.due", w.o.names().prefix());
    w.send(
        "PUT",
        "/namespaces/bus/timers/sneaky",
        Some(json!({
        "schedule": {"at": in_ms(300)}, "target": {"nats": {"subject": own}}})),
    )
    .await;
    let refused = w.settled("bus", "sneaky", "failed").await;
    assert!(
        refused["last_result"]["error"]
            .as_str()
            .unwrap()
            .contains("ontime's own subjects"),
        "{refused}"
    );

    // A topic subscriber may be a subject too.
    w.send("PUT", "/namespaces/bus/topics/t", Some(json!({})))
        .await;
    w.subscribe(
        "bus",
        "t",
        "s1",
        json!({"target": {"nats": {"subject": "events.fanned"}}}),
    )
    .await;
    w.send(
        "PUT",
        "/namespaces/bus/timers/fan",
        Some(json!({
        "schedule": {"at": in_ms(500)}, "target": {"topic": {"name": "t", "body": "hi"}}})),
    )
    .await;
    w.settled("bus", "fan", "succeeded").await;
    let message = stream
        .get_last_raw_message_by_subject("events.fanned")
        .await
        .unwrap();
    assert_eq!(message.payload.as_ref(), br#""hi""#);
    assert!(
        message
            .headers
            .get("Nats-Msg-Id")
            .unwrap()
            .as_str()
            .ends_with("/1/s1")
    );
}
