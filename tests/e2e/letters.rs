//! Dead letters: a call that failed for good lands in its namespace's list with what was
//! called and its last answer; a replay makes one more attempt of the same delivery (and
//! takes the letter off once it succeeds); a letter can be discarded; a timer redefined
//! since cannot have its old delivery replayed. Through the API and the command line.

use std::time::Duration;

use ontime_testkit::{NatsServer, Ontime, Sink, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const BIN: &str = env!("CARGO_BIN_EXE_ontime");

async fn letters(o: &Ontime) -> Vec<Value> {
    let r = o
        .http
        .get(o.api("/namespaces/dl/dead-letters"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn put(o: &Ontime, id: &str, url: &str) {
    let body = json!({"schedule": {"after": "10ms"}, "retry": {"max_attempts": 1},
        "target": {"http": {"url": url, "secret_headers": {"authorization": "Bearer hidden"}}}});
    let r = o
        .http
        .put(o.api(&format!("/namespaces/dl/timers/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calls_are_kept_replayed_and_discarded() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    sink.script_answer(
        "/refused",
        400,
        r#"{"reason": "no such order"}"#,
        Duration::ZERO,
    );
    put(&o, "refused", &sink.url("/refused")).await;

    let letter = eventually(WAIT, "the dead letter", || async {
        letters(&o).await.first().cloned()
    })
    .await;
    assert_eq!(letter["timer"], "refused");
    assert_eq!(letter["request"]["http"]["url"], sink.url("/refused"));
    assert_eq!(
        letter["request"]["http"]["secret_headers"]["authorization"],
        "********"
    );
    assert_eq!(letter["last_attempt"]["status_code"], 400);
    assert_eq!(
        letter["last_attempt"]["response"],
        r#"{"reason": "no such order"}"#
    );
    let id = letter["id"].as_str().unwrap().to_owned();
    let r = o
        .http
        .get(o.api(&format!("/namespaces/dl/dead-letters/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["delivery_id"],
        letter["delivery_id"]
    );

    // Replayed from the command line: the sink now accepts it.
    let out = tokio::process::Command::new(BIN)
        .args([
            "dead-letters",
            "replay",
            "dl",
            &id,
            "--url",
            &o.url,
            "--json",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replay: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(replay["attempt"], 2);
    let calls = sink.wait_for("/refused", 2, WAIT).await;
    assert_eq!(
        calls[0].header("webhook-id"),
        calls[1].header("webhook-id"),
        "the same delivery"
    );
    eventually(WAIT, "the letter gone", || async {
        letters(&o).await.is_empty().then_some(())
    })
    .await;
    let log = o.executions("dl", "refused").await.unwrap();
    assert!(
        log.iter()
            .any(|a| a["attempt"] == 2 && a["outcome"] == "succeeded"),
        "{log:?}"
    );

    // Discarded.
    sink.script_answer("/gone", 410, "", Duration::ZERO);
    put(&o, "gone", &sink.url("/gone")).await;
    let letter = eventually(WAIT, "the second letter", || async {
        letters(&o).await.first().cloned()
    })
    .await;
    let path = o.api(&format!(
        "/namespaces/dl/dead-letters/{}",
        letter["id"].as_str().unwrap()
    ));
    assert_eq!(o.http.delete(&path).send().await.unwrap().status(), 204);
    assert_eq!(o.http.get(&path).send().await.unwrap().status(), 404);

    // A delivery of a definition replaced since is not replayed.
    sink.script_answer("/old", 400, "", Duration::ZERO);
    put(&o, "redefined", &sink.url("/old")).await;
    let letter = eventually(WAIT, "the third letter", || async {
        letters(&o).await.first().cloned()
    })
    .await;
    put(&o, "redefined", &sink.url("/new")).await;
    let replay = format!(
        "/namespaces/dl/dead-letters/{}:replay",
        letter["id"].as_str().unwrap()
    );
    let r = o.http.post(o.api(&replay)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = o
        .http
        .post(o.api(&replay.replace(":replay", ":other")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // An id that no delivery id encodes to names nothing.
    for id in ["a:b", "a.b", "%20"] {
        let path = o.api(&format!("/namespaces/dl/dead-letters/{id}"));
        let r = o.http.get(path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{id}");
    }
}
