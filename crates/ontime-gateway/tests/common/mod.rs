//! What the gateway's HTTP tests run on: a real nats-server per test (free port, temporary
//! store), a topology under a prefix of its own, the gateway on port 0, a stand-in
//! scheduler for the tests that need replies, and a way to send a request and read the answer.
#![allow(
    dead_code,
    reason = "each test file compiles its own copy of this module and uses only part of it"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use ontime_core::ValidationError;
use ontime_core::command::{Batch, BatchReply, Command, Reply};
use ontime_core::idempotency::Remembered;
use ontime_core::state::{self, Applied};
use ontime_gateway::{AppState, GatewayConfig};
use ontime_nats::{Names, Topology, TopologyConfig, headers};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The tests' nats-server: the harness's, so there is one way to start one.
pub use ontime_testkit::NatsServer as Nats;

/// A gateway served on 127.0.0.1:0 over its own topology.
pub struct Gateway {
    pub base: String,
    pub http: reqwest::Client,
    pub topology: Topology,
    pub state: AppState,
    shutdown: CancellationToken,
}

impl Gateway {
    pub async fn start(nats: &Nats, config: GatewayConfig) -> Self {
        Self::start_with(nats, config, ontime_nats::commit::Grouping::default()).await
    }

    /// The same, its topology's writers (and commands) grouped by `grouping`.
    pub async fn start_with(
        nats: &Nats,
        config: GatewayConfig,
        grouping: ontime_nats::commit::Grouping,
    ) -> Self {
        let prefix: String = format!("g{}", uuid::Uuid::now_v7().simple())
            .chars()
            .take(24)
            .collect();
        let names = Names::new(&prefix).expect("a valid prefix");
        let client = ontime_nats::connect(&nats.url(), "gateway-test")
            .await
            .expect("connect to NATS");
        let topology = Topology::ensure(
            client,
            TopologyConfig {
                names,
                grouping,
                ..TopologyConfig::default()
            },
        )
        .await
        .expect("topology");
        let state = AppState::new(topology.clone(), config)
            .await
            .expect("gateway state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let shutdown = CancellationToken::new();
        let app = ontime_gateway::router(state.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Self {
            base,
            http: reqwest::Client::new(),
            topology,
            state,
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The command stream's state.
    async fn commands_state(&self) -> async_nats::jetstream::stream::State {
        self.commands_stream()
            .await
            .get_info()
            .await
            .expect("stream info")
            .state
    }

    async fn commands_stream(&self) -> async_nats::jetstream::stream::Stream {
        let names = self.topology.names();
        self.topology
            .js
            .get_stream(names.cmd_stream())
            .await
            .expect("the command stream")
    }

    /// Messages on the command stream (work-queue: what no scheduler has taken yet).
    pub async fn commands_on_stream(&self) -> u64 {
        self.commands_state().await.messages
    }

    /// Messages the command stream has been given so far (its last sequence): unlike
    /// [`Self::commands_on_stream`], it does not drop once a scheduler takes them.
    pub async fn commands_published(&self) -> u64 {
        self.commands_state().await.last_sequence
    }

    /// The commands on the command stream, oldest first, each with the headers of its
    /// message (a batch's commands share them).
    pub async fn stream_commands(&self) -> Vec<(Command, async_nats::HeaderMap)> {
        let names = self.topology.names();
        let stream = self.commands_stream().await;
        let state = self.commands_state().await;
        let mut out = Vec::new();
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(raw) = stream.get_raw_message(seq).await else {
                continue;
            };
            if names.namespace_of_batch_subject(&raw.subject).is_none() {
                out.push((
                    Command::decode(&raw.payload).expect("a valid command"),
                    raw.headers,
                ));
                continue;
            }
            let batch = Batch::decode(&raw.payload).expect("a valid batch");
            for command in batch.commands {
                out.push((command.expect("a valid command"), raw.headers.clone()));
            }
        }
        out
    }

    /// Plays the scheduler: applies every command, alone or in a batch, with the core's
    /// state machine, writes the record, and replies on `Ontime-Reply-To`. Runs until the
    /// returned handle is dropped.
    pub async fn fake_scheduler(&self) -> FakeScheduler {
        self.scheduler(None).await
    }

    /// A scheduler that refuses every batch whole with `error` (and applies single commands).
    pub async fn refusing_scheduler(&self, error: ValidationError) -> FakeScheduler {
        self.scheduler(Some(error)).await
    }

    async fn scheduler(&self, refusal: Option<ValidationError>) -> FakeScheduler {
        let names = self.topology.names();
        let mut pulled = Vec::new();
        for durable in [names.cmd_consumer(), names.batch_consumer()] {
            let consumer = self
                .topology
                .consumer(&names.cmd_stream(), durable)
                .await
                .expect("the command consumers");
            pulled.push(consumer.messages().await.expect("pulling commands"));
        }
        // Single commands and batches, as they come.
        let mut messages = futures::stream::select_all(pulled);
        let topology = self.topology.clone();
        let taken = Arc::new(Mutex::new(Vec::new()));
        let log = taken.clone();
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    () = token.cancelled() => break,
                    m = messages.next() => match m { Some(Ok(m)) => m, _ => break },
                };
                let info = message.info().expect("JetStream metadata");
                let at = (info.stream_sequence, info.published);
                log.lock()
                    .unwrap()
                    .push((message.subject.to_string(), message.payload.len()));
                let reply = match topology
                    .names()
                    .namespace_of_batch_subject(&message.subject)
                {
                    Some(_) => {
                        let batch = apply_batch(&topology, &message.payload, at, refusal.as_ref());
                        serde_json::to_vec(&batch.await)
                    }
                    None => {
                        let command = Command::decode(&message.payload).expect("a valid command");
                        let reply = apply(&topology, &command, at).await;
                        // Remembered under its key, as the scheduler does: a retry that
                        // JetStream de-duplicates is answered from it.
                        if let Some(idempotency) = &command.idempotency {
                            let first = Remembered {
                                fingerprint: idempotency.fingerprint.clone(),
                                seq: at.0,
                                reply: reply.clone(),
                            };
                            topology
                                .idempotency
                                .remember(&command.namespace, &idempotency.key, &first)
                                .await
                                .expect("remembering the key")
                                .ok();
                        }
                        serde_json::to_vec(&reply)
                    }
                };
                if let Some(to) = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(headers::REPLY_TO))
                {
                    let body = reply.expect("a reply").into();
                    topology
                        .client
                        .publish(to.to_string(), body)
                        .await
                        .expect("replying");
                }
                message.ack().await.expect("acking");
            }
        });
        FakeScheduler {
            taken,
            _stop: stop.drop_guard(),
        }
    }
}

/// A running stand-in scheduler; it stops when dropped.
pub struct FakeScheduler {
    taken: Arc<Mutex<Vec<(String, usize)>>>,
    _stop: DropGuard,
}

impl FakeScheduler {
    /// The messages it took from the command stream so far: subject and body size.
    pub fn taken(&self) -> Vec<(String, usize)> {
        self.taken.lock().unwrap().clone()
    }
}

/// Applies one command as the scheduler would, at its stream sequence and acceptance time,
/// and writes the record.
async fn apply(topology: &Topology, command: &Command, (seq, accepted_at): At) -> Reply {
    let slot = topology
        .timers
        .get(&command.key())
        .await
        .expect("reading the timer");
    let current = slot.record.as_ref().map(|r| (r, slot.revision));
    match state::apply(current, command, seq, accepted_at, chrono::Utc::now()) {
        Ok(Applied::Changed(outcome)) => {
            let record = outcome.record;
            let revision = topology
                .timers
                .write(&record, slot.revision)
                .await
                .expect("writing the timer");
            Reply::applied(record.view(revision))
        }
        Ok(Applied::Unchanged) => Reply::applied(
            slot.record
                .expect("unchanged means present")
                .view(slot.revision),
        ),
        Err(error) => Reply::failed(error),
    }
}

/// Applies each command of a batch on its own, all at the batch's place in the stream, or
/// refuses the batch whole with `refusal`.
async fn apply_batch(
    topology: &Topology,
    payload: &[u8],
    at: At,
    refusal: Option<&ValidationError>,
) -> BatchReply {
    let decoded = match refusal {
        Some(error) => Err(error.clone()),
        None => Batch::decode(payload),
    };
    let commands = match decoded {
        Ok(batch) => batch.commands,
        Err(error) => {
            return BatchReply {
                results: Vec::new(),
                error: Some(error),
            };
        }
    };
    let mut results = Vec::with_capacity(commands.len());
    for command in commands {
        results.push(match command {
            Ok(command) => apply(topology, &command, at).await,
            Err(error) => Reply::failed(error),
        });
    }
    BatchReply {
        results,
        error: None,
    }
}

/// Where a command stands in the stream: its sequence and when the stream accepted it.
type At = (u64, chrono::DateTime<chrono::Utc>);

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A short reply timeout: without a scheduler, a change is accepted after 200 ms.
pub fn quick() -> GatewayConfig {
    GatewayConfig {
        reply_timeout: Duration::from_millis(200),
        ack_timeout: Duration::from_secs(1),
        ..GatewayConfig::default()
    }
}

/// Replies awaited long enough for a stand-in scheduler on a busy machine.
pub fn patient() -> GatewayConfig {
    GatewayConfig {
        reply_timeout: Duration::from_secs(5),
        ..quick()
    }
}

/// A valid timer: one call to a sink, an hour from now.
pub fn timer() -> Value {
    json!({"schedule": {"after": "1h"}, "target": {"http": {"url": "http://sink.test/hook"}}})
}

/// `count` valid timers with ids: `<prefix>0`, `<prefix>1`, …
pub fn named(prefix: &str, count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let mut t = timer();
            t["id"] = json!(format!("{prefix}{i}"));
            t
        })
        .collect()
}

/// Posts a batch to namespace `ns`; answers its results, once sure it was understood (200).
pub async fn post_batch(gw: &Gateway, items: &[Value], headers: &[(&str, &str)]) -> Vec<Value> {
    let body = json!({ "timers": items }).to_string();
    let (status, doc) = send(gw, "POST", "/v1/namespaces/ns/timers:batch", headers, body).await;
    assert_eq!(status, 200, "{doc}");
    let results = doc["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), items.len(), "{doc}");
    results
}

/// Sends a JSON request; answers the status and the body (`null` when it is not JSON).
pub async fn send(
    gw: &Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut request = gw
        .http
        .request(method.parse::<Method>().unwrap(), gw.url(path))
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
