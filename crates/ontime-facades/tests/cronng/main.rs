//! CronNG's API end to end, black-box: a real nats-server, the real gateway with the facade
//! mounted (its namespace enabled for commands), a scheduler and a command worker that runs
//! the jobs' command lines.

mod access;
mod errors;
mod jobs;
mod procs;

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontime_core::Namespace;
use ontime_testkit::{NatsServer, Ontime, Part, command_worker_config, eventually, gateway_config};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// How long a test waits for something to happen.
pub const WAIT: Duration = Duration::from_secs(30);

/// The facade's namespace (the default).
pub const NS: &str = "cronng";

/// One test's world: its own nats-server, ontime with the facades, a command worker.
pub struct World {
    _nats: NatsServer,
    pub ontime: Ontime,
}

/// An answer of the facade.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON answer; `null` for an empty body.
    pub body: Value,
}

impl World {
    /// With the facade's namespace enabled for commands.
    pub async fn start() -> Self {
        Self::start_with(ontime_gateway::GatewayConfig {
            command_namespaces: vec![Namespace::parse(NS).unwrap()],
            ..gateway_config()
        })
        .await
    }

    pub async fn start_with(config: ontime_gateway::GatewayConfig) -> Self {
        let nats = NatsServer::start().await;
        let mut ontime = Ontime::start_with(&nats.url(), 1, 0, config).await;
        ontime.worker_config = command_worker_config(&[NS]);
        ontime.add(Part::Worker).await;
        Self {
            _nats: nats,
            ontime,
        }
    }

    /// `method path` with a raw body and a token, if any; every answer with a body is
    /// checked to be JSON, `application/json`.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .ontime
            .http
            .request(method.clone(), format!("{}{path}", self.ontime.url));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            assert_eq!(
                headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/json"),
                "{method} {path}: {}",
                String::from_utf8_lossy(&bytes)
            );
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{method} {path}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let reply = self.request(method, path, body, None).await;
        (reply.status, reply.body)
    }

    pub async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.send(method, path, Some(&body.to_string())).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None).await
    }

    /// A new job (`POST /jobs` with one item).
    pub async fn job(&self, name: &str, definition: &str) -> Value {
        let (status, made) = self
            .json(
                "POST",
                "/jobs",
                json!({"jobs": [{"name": name, "definition": definition}]}),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        made["jobs"][0].clone()
    }

    /// A new proc of `job` (`POST /procs`).
    pub async fn proc(&self, job: &str, trigger: &str, crontab: Option<&str>) -> Value {
        let mut proc = json!({"job_id": job, "trigger_type": trigger});
        if let Some(crontab) = crontab {
            proc["crontab"] = json!(crontab);
        }
        let (status, made) = self.json("POST", "/procs", json!({ "proc": proc })).await;
        assert_eq!(status, 201, "{made}");
        made["proc"].clone()
    }

    /// Job `job`'s log once it holds at least `n` runs.
    pub async fn log(&self, job: &str, n: usize) -> Vec<Value> {
        eventually(WAIT, &format!("{n} runs in the log of {job}"), || async {
            let (status, log) = self.get(&format!("/jobs/{job}/log")).await;
            assert_eq!(status, 200, "{log}");
            let runs = log["log"].as_array()?.clone();
            (runs.len() >= n).then_some(runs)
        })
        .await
    }

    /// The native view of timer `id` in the facade's namespace.
    pub async fn native(&self, id: &str) -> Value {
        let r = self
            .ontime
            .http
            .get(self.ontime.api(&format!("/namespaces/{NS}/timers/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// The native execution log of timer `id`, newest first.
    pub async fn executions(&self, id: &str) -> Vec<Value> {
        let r = self
            .ontime
            .http
            .get(
                self.ontime
                    .api(&format!("/namespaces/{NS}/timers/{id}/executions")),
            )
            .send()
            .await
            .unwrap();
        let page: Value = r.json().await.unwrap();
        page["items"].as_array().cloned().unwrap_or_default()
    }
}

/// The `id` of a job or a proc, checked to be a UUID v4 as written canonically.
pub fn id_of(doc: &Value) -> String {
    let id = doc["id"].as_str().unwrap_or_else(|| panic!("no id: {doc}"));
    let uuid = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(uuid.get_version_num(), 4, "{id}");
    assert_eq!(uuid.hyphenated().to_string(), id);
    id.to_owned()
}

/// A time as the API writes it: RFC 3339, UTC, to the second (`2001-01-01T00:00:00Z`).
pub fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    assert_eq!(text.len(), 20, "{text}");
    assert!(text.ends_with('Z'), "{text}");
    text.parse()
        .unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
}

/// The 422 of one refused value.
pub fn refused(resource: &str, field: &str, code: &str) -> Value {
    json!({"message": "Validation Failed",
           "errors": [{"resource": resource, "field": field, "code": code}]})
}

/// A file name of its own in the system's temporary directory, which command runs can see.
pub fn marker(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("cronng-{what}-{}", uuid::Uuid::new_v4()))
}
