//! `ontime timers|topics|schedules …`: the REST API from a terminal. Readable tables by
//! default, the API's JSON with `--json`, and exit codes a script can rely on (see [`Exit`]).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Where the API is, and how to talk to it.
#[derive(Args, Debug, Clone)]
pub struct Client {
    /// The gateway's URL.
    #[arg(
        long,
        env = "ONTIME_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// An API token (`ot_…`), sent as `Authorization: Bearer`.
    #[arg(long, env = "ONTIME_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Timers {
    /// A namespace's timers.
    List {
        namespace: String,
        /// Only timers in this status (scheduled, running, paused, completed, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// `key=value`: only timers with this metadata (repeatable).
        #[arg(long = "metadata", value_name = "KEY=VALUE")]
        metadata: Vec<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Where the previous page ended (its `next_cursor`).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One timer.
    Get {
        namespace: String,
        id: String,
    },
    /// Create a timer from a definition (`--spec '{…}'` or `--spec @file.json`): with an id,
    /// created or replaced (PUT); without, created with a generated id (POST).
    Create {
        namespace: String,
        id: Option<String>,
        #[arg(long)]
        spec: String,
    },
    /// Change some fields (`--patch '{…}'` or `@file.json`, a JSON merge patch).
    Update {
        namespace: String,
        id: String,
        #[arg(long)]
        patch: String,
    },
    /// Cancel a timer.
    Delete {
        namespace: String,
        id: String,
    },
    Pause {
        namespace: String,
        id: String,
    },
    Resume {
        namespace: String,
        id: String,
    },
    /// Run it now, once, outside its schedule.
    Trigger {
        namespace: String,
        id: String,
    },
    /// Its attempts, newest first.
    Executions {
        namespace: String,
        id: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum Topics {
    /// A namespace's topics.
    List { namespace: String },
    /// One topic.
    Get { namespace: String, topic: String },
    /// Create or replace a topic (`--spec '{…}'` or `@file.json`).
    Put {
        namespace: String,
        topic: String,
        #[arg(long, default_value = "{}")]
        spec: String,
    },
    /// Delete a topic.
    Delete { namespace: String, topic: String },
    /// A topic's subscribers.
    Subscribers { namespace: String, topic: String },
    /// Add or replace a subscriber (`--spec '{"target": …}'` or `@file.json`).
    Subscribe {
        namespace: String,
        topic: String,
        subscriber: String,
        #[arg(long)]
        spec: String,
    },
    /// Remove a subscriber.
    Unsubscribe {
        namespace: String,
        topic: String,
        subscriber: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeadLetters {
    /// A namespace's calls that failed for good, newest first.
    List {
        namespace: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One letter: what was called, and its last attempt.
    Get { namespace: String, id: String },
    /// One more attempt of its delivery, now.
    Replay { namespace: String, id: String },
    /// Take it off the list.
    Discard { namespace: String, id: String },
}

#[derive(Subcommand, Debug)]
pub enum Schedules {
    /// The next occurrences of a schedule, created nowhere.
    Preview {
        #[arg(long)]
        cron: Option<String>,
        #[arg(long)]
        every: Option<String>,
        #[arg(long)]
        iso: Option<String>,
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        after: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long, default_value_t = 10)]
        count: u32,
    },
}

/// The exit codes, for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The request was done (2xx).
    Ok = 0,
    /// The gateway could not be reached, or failed (5xx).
    Unavailable = 1,
    /// Usage errors are clap's: 2.
    /// No such timer, topic or route (404).
    NotFound = 3,
    /// No token, or one that does not allow this (401, 403).
    Refused = 4,
    /// The request was refused as it stands (400, 409, 413, 422).
    Invalid = 5,
}

impl Exit {
    fn of(status: StatusCode) -> Self {
        match status.as_u16() {
            200..=299 => Self::Ok,
            404 => Self::NotFound,
            401 | 403 => Self::Refused,
            400..=499 => Self::Invalid,
            _ => Self::Unavailable,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A request to make and how to show its answer.
struct Call {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    show: fn(&Value) -> String,
}

impl Call {
    fn new(method: Method, path: String, show: fn(&Value) -> String) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            body: None,
            show,
        }
    }

    fn query(mut self, name: &str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name.to_owned(), value.to_string()));
        }
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

pub async fn timers(client: Client, command: Timers) -> anyhow::Result<ExitCode> {
    let timer = |ns: &str, id: &str| format!("/v1/namespaces/{}/timers/{}", seg(ns), seg(id));
    let call = match command {
        Timers::List {
            namespace,
            status,
            metadata,
            limit,
            cursor,
        } => {
            let mut call = Call::new(
                Method::GET,
                format!("/v1/namespaces/{}/timers", seg(&namespace)),
                timer_table,
            )
            .query("status", status)
            .query("limit", Some(limit))
            .query("cursor", cursor);
            for pair in metadata {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--metadata {pair:?} is not KEY=VALUE"))?;
                call = call.query(&format!("metadata.{key}"), Some(value));
            }
            call
        }
        Timers::Get { namespace, id } => Call::new(Method::GET, timer(&namespace, &id), timer_card),
        Timers::Create {
            namespace,
            id: Some(id),
            spec,
        } => Call::new(Method::PUT, timer(&namespace, &id), timer_card).body(document(&spec)?),
        Timers::Create {
            namespace,
            id: None,
            spec,
        } => Call::new(
            Method::POST,
            format!("/v1/namespaces/{}/timers", seg(&namespace)),
            timer_card,
        )
        .body(document(&spec)?),
        Timers::Update {
            namespace,
            id,
            patch,
        } => Call::new(Method::PATCH, timer(&namespace, &id), timer_card).body(document(&patch)?),
        Timers::Delete { namespace, id } => {
            Call::new(Method::DELETE, timer(&namespace, &id), timer_card)
        }
        Timers::Pause { namespace, id } => action(&timer(&namespace, &id), "pause"),
        Timers::Resume { namespace, id } => action(&timer(&namespace, &id), "resume"),
        Timers::Trigger { namespace, id } => action(&timer(&namespace, &id), "trigger"),
        Timers::Executions {
            namespace,
            id,
            limit,
        } => Call::new(
            Method::GET,
            format!("{}/executions", timer(&namespace, &id)),
            execution_table,
        )
        .query("limit", Some(limit)),
    };
    send(&client, call).await
}

pub async fn topics(client: Client, command: Topics) -> anyhow::Result<ExitCode> {
    let topics = |ns: &str| format!("/v1/namespaces/{}/topics", seg(ns));
    let topic = |ns: &str, t: &str| format!("{}/{}", topics(ns), seg(t));
    let call = match command {
        Topics::List { namespace } => Call::new(Method::GET, topics(&namespace), topic_table),
        Topics::Get {
            namespace,
            topic: t,
        } => Call::new(Method::GET, topic(&namespace, &t), pretty),
        Topics::Put {
            namespace,
            topic: t,
            spec,
        } => Call::new(Method::PUT, topic(&namespace, &t), pretty).body(document(&spec)?),
        Topics::Delete {
            namespace,
            topic: t,
        } => Call::new(Method::DELETE, topic(&namespace, &t), pretty),
        Topics::Subscribers {
            namespace,
            topic: t,
        } => Call::new(
            Method::GET,
            format!("{}/subscribers", topic(&namespace, &t)),
            subscriber_table,
        ),
        Topics::Subscribe {
            namespace,
            topic: t,
            subscriber,
            spec,
        } => Call::new(
            Method::PUT,
            format!("{}/subscribers/{}", topic(&namespace, &t), seg(&subscriber)),
            pretty,
        )
        .body(document(&spec)?),
        Topics::Unsubscribe {
            namespace,
            topic: t,
            subscriber,
        } => Call::new(
            Method::DELETE,
            format!("{}/subscribers/{}", topic(&namespace, &t), seg(&subscriber)),
            pretty,
        ),
    };
    send(&client, call).await
}

pub async fn dead_letters(client: Client, command: DeadLetters) -> anyhow::Result<ExitCode> {
    let letters = |ns: &str| format!("/v1/namespaces/{}/dead-letters", seg(ns));
    let call = match command {
        DeadLetters::List { namespace, limit } => {
            Call::new(Method::GET, letters(&namespace), letter_table).query("limit", Some(limit))
        }
        DeadLetters::Get { namespace, id } => Call::new(
            Method::GET,
            format!("{}/{}", letters(&namespace), seg(&id)),
            pretty,
        ),
        DeadLetters::Replay { namespace, id } => Call::new(
            Method::POST,
            format!("{}/{}:replay", letters(&namespace), seg(&id)),
            pretty,
        ),
        DeadLetters::Discard { namespace, id } => Call::new(
            Method::DELETE,
            format!("{}/{}", letters(&namespace), seg(&id)),
            pretty,
        ),
    };
    send(&client, call).await
}

pub async fn schedules(client: Client, command: Schedules) -> anyhow::Result<ExitCode> {
    let Schedules::Preview {
        cron,
        every,
        iso,
        at,
        after,
        timezone,
        count,
    } = command;
    let call = Call::new(Method::GET, "/v1/schedules:preview".into(), occurrences)
        .query("cron", cron)
        .query("every", every)
        .query("iso", iso)
        .query("at", at)
        .query("after", after)
        .query("timezone", timezone)
        .query("count", Some(count));
    send(&client, call).await
}

fn action(timer: &str, name: &str) -> Call {
    Call::new(Method::POST, format!("{timer}:{name}"), timer_card)
}

/// A path segment, percent-encoded.
fn seg(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A JSON document given inline or as `@path`.
fn document(given: &str) -> anyhow::Result<Value> {
    let text = match given.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?
        }
        None => given.to_owned(),
    };
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("not JSON: {e}"))
}

async fn send(client: &Client, call: Call) -> anyhow::Result<ExitCode> {
    let http = reqwest::Client::new();
    let url = format!("{}{}", client.url.trim_end_matches('/'), call.path);
    let mut request = http.request(call.method, &url).query(&call.query);
    if let Some(token) = &client.token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("ontime: {url}: {e}");
            return Ok(Exit::Unavailable.into());
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    let exit = Exit::of(status);
    if exit != Exit::Ok {
        let message = body["message"]
            .as_str()
            .map_or_else(|| body.to_string(), str::to_owned);
        match body["field"].as_str() {
            Some(field) if !field.is_empty() => eprintln!("ontime: {status}: {field}: {message}"),
            _ => eprintln!("ontime: {status}: {message}"),
        }
        if client.json {
            println!("{body}");
        }
        return Ok(exit.into());
    }
    if client.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else if !body.is_null() && body != Value::String(String::new()) {
        println!("{}", (call.show)(&body));
    }
    Ok(Exit::Ok.into())
}

fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The kind of a schedule: `at`, `after`, `cron`, `every`, `iso`.
fn kind(schedule: &Value) -> String {
    schedule
        .as_object()
        .and_then(|o| {
            ["at", "after", "cron", "every", "iso"]
                .into_iter()
                .find(|k| o.contains_key(*k))
                .map(|k| format!("{k} {}", text(&o[k])))
        })
        .unwrap_or_else(|| "-".into())
}

fn items(page: &Value) -> impl Iterator<Item = &Value> {
    page["items"].as_array().into_iter().flatten()
}

fn timer_table(page: &Value) -> String {
    let rows = items(page).map(|t| {
        vec![
            text(&t["id"]),
            text(&t["status"]),
            kind(&t["schedule"]),
            text(&t["next_fire_at"]),
            text(&t["runs"]),
        ]
    });
    let mut out = table(&["ID", "STATUS", "SCHEDULE", "NEXT DUE", "RUNS"], rows);
    if let Some(cursor) = page["next_cursor"].as_str() {
        out.push_str(&format!("\nmore: --cursor {cursor}"));
    }
    out
}

fn timer_card(t: &Value) -> String {
    let target = t["target"]
        .as_object()
        .and_then(|o| o.iter().next())
        .map_or_else(
            || "-".into(),
            |(kind, target)| match kind.as_str() {
                "http" => format!("{} {}", text(&target["method"]), text(&target["url"])),
                "nats" => format!("nats {}", text(&target["subject"])),
                "topic" => format!("topic {}", text(&target["name"])),
                "command" => format!("command {}", text(&target["run"])),
                other => other.to_owned(),
            },
        );
    let fields = [
        (
            "id",
            format!("{}/{}", text(&t["namespace"]), text(&t["id"])),
        ),
        ("status", text(&t["status"])),
        ("schedule", kind(&t["schedule"])),
        ("target", target),
        ("next due", text(&t["next_fire_at"])),
        ("runs", text(&t["runs"])),
        ("revision", text(&t["revision"])),
        ("last outcome", text(&t["last_result"]["outcome"])),
    ];
    fields
        .iter()
        .map(|(name, value)| format!("{name:>13}  {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn execution_table(page: &Value) -> String {
    let rows = items(page).map(|a| {
        vec![
            text(&a["started_at"]),
            text(&a["attempt"]),
            text(&a["outcome"]),
            text(&a["status_code"]),
            format!("{} ms", text(&a["latency_ms"])),
            text(&a["error"]),
        ]
    });
    table(
        &[
            "STARTED", "ATTEMPT", "OUTCOME", "STATUS", "LATENCY", "ERROR",
        ],
        rows,
    )
}

fn letter_table(page: &Value) -> String {
    let rows = items(page).map(|l| {
        let last = &l["last_attempt"];
        vec![
            text(&l["id"]),
            text(&l["timer"]),
            text(&l["failed_at"]),
            text(&last["status_code"]),
            text(&last["error"]),
        ]
    });
    table(&["ID", "TIMER", "FAILED AT", "STATUS", "ERROR"], rows)
}

fn topic_table(page: &Value) -> String {
    let rows = items(page).map(|t| {
        vec![
            text(&t["name"]),
            text(&t["description"]),
            text(&t["subscribers"]),
        ]
    });
    table(&["TOPIC", "DESCRIPTION", "SUBSCRIBERS"], rows)
}

fn subscriber_table(page: &Value) -> String {
    let rows = items(page).map(|s| {
        let target = &s["target"];
        let to = target["http"]["url"]
            .as_str()
            .or(target["nats"]["subject"].as_str())
            .unwrap_or("-");
        vec![text(&s["id"]), to.to_owned()]
    });
    table(&["SUBSCRIBER", "TARGET"], rows)
}

fn occurrences(preview: &Value) -> String {
    let rows = preview["occurrences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| vec![text(o)]);
    table(&["OCCURRENCE"], rows)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_exit_codes() {
        assert_eq!(Exit::of(StatusCode::OK), Exit::Ok);
        assert_eq!(Exit::of(StatusCode::NOT_FOUND), Exit::NotFound);
        assert_eq!(Exit::of(StatusCode::FORBIDDEN), Exit::Refused);
        assert_eq!(Exit::of(StatusCode::UNAUTHORIZED), Exit::Refused);
        assert_eq!(Exit::of(StatusCode::UNPROCESSABLE_ENTITY), Exit::Invalid);
        assert_eq!(Exit::of(StatusCode::CONFLICT), Exit::Invalid);
        assert_eq!(Exit::of(StatusCode::SERVICE_UNAVAILABLE), Exit::Unavailable);
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
        assert_eq!(seg("order-42.x"), "order-42.x");
    }
}
