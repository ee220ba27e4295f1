//! Flow limits end to end, through the real gateway, on a real nats-server, with two workers
//! sharing them: set, read, replaced and removed through the API; a rate spaces the calls of
//! every worker together; a concurrency bounds the calls in flight together; no call fails
//! because of a limit, and the wait shows in the attempts' start.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontime_testkit::{NatsServer, Ontime, Sink, eventually};
use serde_json::{Value, json};

/// `n` timers of `ns`, due now, calling `url`, created in one batch.
async fn due_now(o: &Ontime, ns: &str, n: usize, url: &str) {
    let timers: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": format!("t{i:03}"), "schedule": {"after": "0s"},
                        "target": {"http": {"url": url}},
                        "retry": {"max_attempts": 1}})
        })
        .collect();
    let path = format!("/namespaces/{ns}/timers:batch");
    let (status, batch) = o.send("POST", &path, Some(json!({"timers": timers}))).await;
    assert_eq!(status, 200, "{batch}");
    for result in batch["results"].as_array().unwrap() {
        assert!(result["status"].as_u64().unwrap() < 300, "{batch}");
    }
}

/// The execution log of timer `id` of `ns`, once it has an entry.
async fn logged(o: &Ontime, ns: &str, id: &str) -> Vec<Value> {
    eventually(Duration::from_secs(20), "an attempt in the log", || async {
        o.executions(ns, id).await.filter(|log| !log.is_empty())
    })
    .await
}

/// The most of `starts` within any span of `span` (sorted or not).
fn most_within(starts: &[DateTime<Utc>], span: Duration) -> usize {
    let mut sorted = starts.to_vec();
    sorted.sort();
    let span = chrono::Duration::from_std(span).unwrap();
    (0..sorted.len())
        .map(|i| {
            sorted[i..]
                .iter()
                .take_while(|t| **t - sorted[i] < span)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_set_read_replaced_and_removed() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 0).await;
    let ns = "/namespaces/shop";

    let (status, _) = o.send("GET", &format!("{ns}/limits"), None).await;
    assert_eq!(status, 404);
    let (status, set) = o
        .send("PUT", &format!("{ns}/limits"), Some(json!({"rate": 50})))
        .await;
    assert_eq!((status, set), (201, json!({"rate": 50.0})));
    let replaced = json!({"rate": 0.5, "concurrency": 3});
    let (status, set) = o
        .send("PUT", &format!("{ns}/limits"), Some(replaced.clone()))
        .await;
    assert_eq!((status, set), (200, replaced.clone()));
    let (status, read) = o.send("GET", &format!("{ns}/limits"), None).await;
    assert_eq!((status, read), (200, replaced));

    // A host's own limit; the host as URLs write it, whatever case it was given in.
    let host = format!("{ns}/hosts/API.Example.com/limits");
    let (status, set) = o.send("PUT", &host, Some(json!({"concurrency": 2}))).await;
    assert_eq!(
        (status, set),
        (201, json!({"host": "api.example.com", "concurrency": 2}))
    );
    let (status, list) = o.send("GET", &format!("{ns}/hosts"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!({"items": [{"host": "api.example.com", "concurrency": 2}]})
    );
    let (status, _) = o
        .send("GET", &format!("{ns}/hosts/other.example.com/limits"), None)
        .await;
    assert_eq!(status, 404);

    // Refused: nothing set, out of bounds, unknown fields, not a host.
    for (body, field) in [
        (json!({}), "rate"),
        (json!({"rate": 0}), "rate"),
        (json!({"rate": 1e9}), "rate"),
        (json!({"concurrency": 0}), "concurrency"),
        (json!({"rate": 1, "burst": 3}), "burst"),
    ] {
        let (status, err) = o
            .send("PUT", &format!("{ns}/limits"), Some(body.clone()))
            .await;
        assert_eq!(
            (status, err["field"].as_str()),
            (422, Some(field)),
            "{body}: {err}"
        );
    }
    let (status, err) = o
        .send(
            "PUT",
            &format!("{ns}/hosts/a:80/limits"),
            Some(json!({"rate": 1})),
        )
        .await;
    assert_eq!(
        (status, err["field"].as_str()),
        (422, Some("host")),
        "{err}"
    );

    for path in [format!("{ns}/limits"), host] {
        let (status, _) = o.send("DELETE", &path, None).await;
        assert_eq!(status, 204, "{path}");
        let (status, _) = o.send("GET", &path, None).await;
        assert_eq!(status, 404, "{path}");
        let (status, _) = o.send("DELETE", &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_spaces_the_calls_of_every_worker_together() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 2).await;
    const RATE: usize = 20;
    const CALLS: usize = 60;
    let (status, _) = o
        .send(
            "PUT",
            "/namespaces/paced/limits",
            Some(json!({"rate": RATE})),
        )
        .await;
    assert_eq!(status, 201);

    due_now(&o, "paced", CALLS, &sink.url("/paced")).await;
    let calls = sink
        .wait_for("/paced", CALLS, Duration::from_secs(60))
        .await;
    assert_eq!(calls.len(), CALLS);
    // Spaced 1/RATE apart: no second holds more than RATE calls (one more where a second's
    // edges fall on two starts); due together, unlimited, they would all come at once.
    let arrivals: Vec<DateTime<Utc>> = calls.iter().map(|c| c.at).collect();
    let busiest = most_within(&arrivals, Duration::from_secs(1));
    assert!(
        busiest <= RATE + 1,
        "{busiest} calls within a second under a rate of {RATE}/s"
    );

    // Every call succeeded on its one attempt, and the wait is in its start: the last to
    // start began at least (CALLS - 1) / RATE seconds after the first.
    let mut starts = Vec::new();
    for i in 0..CALLS {
        let id = format!("t{i:03}");
        let log = logged(&o, "paced", &id).await;
        assert_eq!(log.len(), 1, "{id}: {log:?}");
        assert_eq!(log[0]["outcome"], "succeeded", "{id}: {log:?}");
        starts.push(
            log[0]["started_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
        );
    }
    starts.sort();
    let spread = starts[CALLS - 1] - starts[0];
    let least = chrono::Duration::milliseconds(((CALLS - 2) * 1000 / RATE) as i64);
    assert!(
        spread >= least,
        "{CALLS} calls started within {spread} under {RATE}/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrency_bounds_the_calls_in_flight_of_every_worker_together() {
    let nats = NatsServer::start().await;
    let sink = Sink::start().await;
    let o = Ontime::start(&nats.url(), 1, 2).await;
    const AT_ONCE: usize = 2;
    const CALLS: usize = 8;
    const SLOW: Duration = Duration::from_millis(300);
    for _ in 0..CALLS {
        sink.script_answer("/slow", 200, "{}", SLOW);
    }
    let limit = json!({"concurrency": AT_ONCE});
    let (status, _) = o
        .send(
            "PUT",
            "/namespaces/narrow/hosts/127.0.0.1/limits",
            Some(limit),
        )
        .await;
    assert_eq!(status, 201);

    due_now(&o, "narrow", CALLS, &sink.url("/slow")).await;
    let calls = sink.wait_for("/slow", CALLS, Duration::from_secs(60)).await;
    assert_eq!(calls.len(), CALLS);
    // A place is given back once the answer came, so a call in the sink's `SLOW` answer
    // holds its place: no more than AT_ONCE arrive within any such span.
    let arrivals: Vec<DateTime<Utc>> = calls.iter().map(|c| c.at).collect();
    let busiest = most_within(&arrivals, SLOW);
    assert!(
        busiest <= AT_ONCE,
        "{busiest} calls in flight at once under a concurrency of {AT_ONCE}"
    );
    for i in 0..CALLS {
        let id = format!("t{i:03}");
        let log = logged(&o, "narrow", &id).await;
        assert_eq!(log[0]["outcome"], "succeeded", "{id}: {log:?}");
    }
}
