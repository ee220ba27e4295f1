//! ontime-ontarget's API end to end, black-box: a real nats-server, the real gateway with the
//! facade mounted, a scheduler, a worker and an HTTP sink as every subscriber.

mod events;
mod firing;
mod subscribers;
mod topics;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use ontime_testkit::{NatsServer, Ontime, Sink};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// How long a test waits for something to happen.
pub const WAIT: Duration = Duration::from_secs(30);

/// The facade's namespace (the default).
pub const NS: &str = "ontarget";

/// One test's world: its own nats-server, ontime with the facades, an HTTP sink.
pub struct World {
    pub nats: NatsServer,
    pub ontime: Ontime,
    pub sink: Sink,
}

/// An answer of the facade.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    /// The answer as JSON (the facade sends JSON as text).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// The id of `201 CREATED: <id>`, checked to be a UUID v4.
    pub fn created(&self) -> String {
        assert_eq!(self.status, 201, "{self:?}");
        let id = self
            .text
            .strip_prefix("CREATED: ")
            .unwrap_or_else(|| panic!("not a creation: {self:?}"));
        let uuid = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(uuid.get_version_num(), 4, "{id}");
        assert_eq!(
            uuid.hyphenated().to_string(),
            id,
            "written as the original wrote it"
        );
        id.to_owned()
    }

    /// Checks the status and the text.
    pub fn is(&self, status: u16, text: &str) {
        assert_eq!(
            (self.status, self.text.as_str()),
            (status, text),
            "{self:?}"
        );
    }
}

/// How a request's body is sent.
pub enum Body<'a> {
    None,
    Form(&'a [(&'a str, &'a str)]),
    Json(Value),
    /// Bytes, with this Content-Type (or none).
    Raw(Option<&'a str>, Vec<u8>),
}

impl World {
    pub async fn start() -> Self {
        let nats = NatsServer::start().await;
        let ontime = Ontime::start(&nats.url(), 1, 1).await;
        Self {
            nats,
            ontime,
            sink: Sink::start().await,
        }
    }

    /// `method path` with `body`; the answer, whose Content-Type is checked to be the
    /// original's.
    pub async fn send(&self, method: &str, path: &str, body: Body<'_>) -> Reply {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let reply = self.raw(method, path, body, headers).await;
        assert_eq!(
            reply
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/html; charset=utf-8"),
            "{method} {path}: {reply:?}"
        );
        reply
    }

    /// `method path` with `body`, nothing checked.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .ontime
            .http
            .request(method, format!("{}{path}", self.ontime.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = match body {
            Body::None => request,
            Body::Form(fields) => request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(fields).unwrap()),
            Body::Json(doc) => request
                .header("content-type", "application/json")
                .body(doc.to_string()),
            Body::Raw(content_type, bytes) => match content_type {
                Some(ct) => request.header("content-type", ct).body(bytes),
                None => request.body(bytes),
            },
        };
        let response = request.send().await.unwrap();
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, Body::None).await
    }

    /// A new topic; its id.
    pub async fn topic(&self, name: &str) -> String {
        self.send(
            "POST",
            "/schedule/topics",
            Body::Form(&[("name", name), ("description", "")]),
        )
        .await
        .created()
    }

    /// A new subscriber of `topic` calling `path` on the sink, with more fields; its id.
    pub async fn subscriber(&self, topic: &str, path: &str, more: &[(&str, &str)]) -> String {
        let uri = self.sink.url(path);
        let mut fields = vec![("uri", uri.as_str())];
        fields.extend_from_slice(more);
        self.send(
            "POST",
            &format!("/schedule/topics/{topic}/subscribers"),
            Body::Form(&fields),
        )
        .await
        .created()
    }

    /// `POST …/at/<timespec>` with a body.
    pub async fn event(&self, topic: &str, timespec: &str, body: Body<'_>) -> Reply {
        self.send(
            "POST",
            &format!("/schedule/topics/{topic}/at/{timespec}"),
            body,
        )
        .await
    }

    /// The ids of a listing, in its order.
    pub async fn ids(&self, path: &str) -> Vec<String> {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply
            .json()
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {reply:?}"))
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A native document under `/v1/namespaces/ontarget`, `None` on a 404.
    pub async fn native(&self, path: &str) -> Option<Value> {
        let r = self
            .ontime
            .http
            .get(self.ontime.api(&format!("/namespaces/{NS}{path}")))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            404 => None,
            200 => Some(r.json().await.unwrap()),
            other => panic!("{path}: {other}"),
        }
    }

    /// How many timers (cancelled ones included) the namespace has: what a refused request
    /// must leave unchanged.
    pub async fn timers(&self) -> usize {
        let mut n = 0;
        for status in ["", "?status=cancelled"] {
            let page = self.native(&format!("/timers{status}")).await.unwrap();
            n += page["items"].as_array().unwrap().len();
        }
        n
    }
}

/// A UTC instant `secs` from now, on a whole second, as a timespec.
pub fn in_secs(secs: i64) -> String {
    let at = Utc::now() + chrono::Duration::seconds(secs);
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
