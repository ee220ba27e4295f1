//! What the Crony and CronHubot tests share: one test's world (its nats-server, ontime with
//! the facades, an HTTP sink) and requests that check the Go services' encoding on every
//! JSON answer.

use std::time::Duration;

use ontime_testkit::{NatsServer, Ontime, Sink};
use serde_json::Value;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct World {
    _nats: NatsServer,
    pub ontime: Ontime,
    pub sink: Sink,
}

impl World {
    pub async fn start() -> Self {
        let nats = NatsServer::start().await;
        let ontime = Ontime::start(&nats.url(), 1, 1).await;
        Self {
            _nats: nats,
            ontime,
            sink: Sink::start().await,
        }
    }

    /// `method path` with a raw body; the status and the JSON answer, whose encoding is
    /// checked: `application/json; charset=utf-8`, one line ending in a newline.
    pub async fn send(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .ontime
            .http
            .request(method, format!("{}{path}", self.ontime.url));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.bytes().await.unwrap();
        assert_eq!(
            content_type.as_deref(),
            Some("application/json; charset=utf-8"),
            "{path}: {}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(
            bytes.ends_with(b"}\n") || bytes.ends_with(b"]\n"),
            "{path}: {bytes:?}"
        );
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    pub async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.send(method, path, Some(&body.to_string())).await
    }

    /// `GET /health`, which is the gateway's own (its JSON is not Go's).
    pub async fn health(&self) -> Value {
        let r = self
            .ontime
            .http
            .get(format!("{}/health", self.ontime.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None).await
    }

    /// The native view of timer `id` in `ns`.
    pub async fn native(&self, ns: &str, id: u64) -> Value {
        let r = self
            .ontime
            .http
            .get(self.ontime.api(&format!("/namespaces/{ns}/timers/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// The native execution log of timer `id` in `ns`, newest first.
    pub async fn executions(&self, ns: &str, id: u64) -> Vec<Value> {
        let r = self
            .ontime
            .http
            .get(
                self.ontime
                    .api(&format!("/namespaces/{ns}/timers/{id}/executions")),
            )
            .send()
            .await
            .unwrap();
        let page: Value = r.json().await.unwrap();
        page["items"].as_array().cloned().unwrap_or_default()
    }
}

/// The integer `id` of an event or a cron job.
pub fn id_of(job: &Value) -> u64 {
    job["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer id: {job}"))
}

/// The ids of a listing, in its order.
pub fn ids(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(id_of)
        .collect()
}

/// A cron expression (seconds first) for the next whole second at least `ahead` from now
/// that is on a second of its own, in UTC.
pub fn once_in(ahead: Duration) -> (String, chrono::DateTime<chrono::Utc>) {
    use chrono::{Timelike, Utc};
    let at = Utc::now() + chrono::Duration::from_std(ahead).unwrap() + chrono::Duration::seconds(1);
    let at = at.with_nanosecond(0).unwrap();
    (
        format!("{} {} {} * * *", at.second(), at.minute(), at.hour()),
        at,
    )
}
