//! The Durable Timer API end to end, black-box: a real nats-server, the real gateway with
//! the facade mounted, a scheduler, a worker and an HTTP sink as the callback target. Every
//! answer is checked against the API's own document (`api/durable-timer-api.yaml`): a
//! status it does not list, or a body its schema refuses, fails the test.

mod callbacks;
mod document;
mod timers;

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontime_testkit::{NatsServer, Ontime, Sink};
use serde_json::{Value, json};

use document::Document;

const WAIT: Duration = Duration::from_secs(30);

/// One test's world: its nats-server, ontime with the facade, a sink, and the document.
struct World {
    _nats: NatsServer,
    ontime: Ontime,
    sink: Sink,
    document: Document,
}

impl World {
    async fn start() -> Self {
        let nats = NatsServer::start().await;
        let ontime = Ontime::start(&nats.url(), 1, 1).await;
        Self {
            _nats: nats,
            ontime,
            sink: Sink::start().await,
            document: Document::load(),
        }
    }

    /// `POST /api/v1{path}` with a raw body; the answer, checked against the document.
    async fn post_raw(&self, path: &str, body: String) -> (u16, Value) {
        let response = self
            .ontime
            .http
            .post(format!("{}/api/v1{path}", self.ontime.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        self.document.check(path, status, &bytes);
        let doc = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, doc)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_raw(path, body.to_string()).await
    }

    async fn get(&self, ns: &str, id: &str) -> (u16, Value) {
        self.post("/timers/get", json!({"namespace": ns, "timerId": id}))
            .await
    }

    /// The native view of a timer (`GET /v1/namespaces/{ns}/timers/{id}`).
    async fn native(&self, ns: &str, id: &str) -> (u16, Value) {
        let r = self
            .ontime
            .http
            .get(self.ontime.api(&format!("/namespaces/{ns}/timers/{id}")))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the native timer reaches `status`.
    async fn native_status(&self, ns: &str, id: &str, status: &str) -> Value {
        ontime_testkit::eventually(WAIT, &format!("{id} to be {status}"), || async {
            let (code, timer) = self.native(ns, id).await;
            (code == 200 && timer["status"] == status).then_some(timer)
        })
        .await
    }
}

fn in_ms(ms: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds(ms)
}

/// RFC 3339 as the API writes instants.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
