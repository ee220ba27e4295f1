//! What the gateway's HTTP tests run on: a real nats-server per test (free port, temporary
//! store), a topology under a prefix of its own, the gateway on port 0, a stand-in
//! scheduler for the tests that need replies, and a way to send a request and read the answer.
#![allow(
    dead_code,
    reason = "each test file compiles its own copy of this module and uses only part of it"
)]

use std::time::Duration;

use futures::StreamExt;
use ontime_core::command::{Command, Reply};
use ontime_core::state::{self, Applied};
use ontime_gateway::{AppState, GatewayConfig};
use ontime_nats::{Names, Topology, TopologyConfig, headers};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

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

    /// Messages on the command stream (work-queue: what no scheduler has taken yet).
    pub async fn commands_on_stream(&self) -> u64 {
        let names = self.topology.names();
        let mut stream = self
            .topology
            .js
            .get_stream(names.cmd_stream())
            .await
            .expect("the command stream");
        stream.info().await.expect("stream info").state.messages
    }

    /// The command stream's messages, oldest first, with their headers.
    pub async fn stream_commands(&self) -> Vec<(Command, async_nats::HeaderMap)> {
        let names = self.topology.names();
        let stream = self
            .topology
            .js
            .get_stream(names.cmd_stream())
            .await
            .expect("the command stream");
        let info = stream.get_info().await.expect("stream info");
        let mut out = Vec::new();
        for seq in info.state.first_sequence..=info.state.last_sequence {
            if let Ok(raw) = stream.get_raw_message(seq).await {
                out.push((
                    Command::decode(&raw.payload).expect("a valid command"),
                    raw.headers,
                ));
            }
        }
        out
    }

    /// Plays the scheduler: applies every command with the core's state machine, writes the
    /// record, and replies on `Ontime-Reply-To`. Stops when the returned token is cancelled.
    pub async fn fake_scheduler(&self) -> CancellationToken {
        let names = self.topology.names();
        let consumer = self
            .topology
            .consumer(&names.cmd_stream(), names.cmd_consumer())
            .await
            .expect("the command consumer");
        let mut messages = consumer.messages().await.expect("pulling commands");
        let topology = self.topology.clone();
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    () = token.cancelled() => break,
                    m = messages.next() => match m { Some(Ok(m)) => m, _ => break },
                };
                let info = message.info().expect("JetStream metadata");
                let (seq, accepted_at) = (info.stream_sequence, info.published);
                let command = Command::decode(&message.payload).expect("a valid command");
                let slot = topology
                    .timers
                    .get(&command.key())
                    .await
                    .expect("reading the timer");
                let current = slot.record.as_ref().map(|r| (r, slot.revision));
                let reply =
                    match state::apply(current, &command, seq, accepted_at, chrono::Utc::now()) {
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
                    };
                if let Some(to) = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(headers::REPLY_TO))
                {
                    let body = serde_json::to_vec(&reply).expect("a reply").into();
                    topology
                        .client
                        .publish(to.to_string(), body)
                        .await
                        .expect("replying");
                }
                message.ack().await.expect("acking");
            }
        });
        stop
    }
}

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

/// A valid timer: one call to a sink, an hour from now.
pub fn timer() -> Value {
    json!({"schedule": {"after": "1h"}, "target": {"http": {"url": "http://sink.test/hook"}}})
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
