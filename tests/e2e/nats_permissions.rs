//! The NATS permissions of `nats/permissions.conf`, on a real nats-server: ontime runs as its
//! `ontime` user; the example service `billing` publishes commands for its own namespace
//! (single and batch), gets JetStream's acknowledgement and the scheduler's reply on its own
//! inboxes, and the timer is then readable through the REST API; everything else it tries
//! (another namespace, ontime's subjects, KV, the JetStream API, other clients' inboxes) is
//! refused by the server, as is a client without credentials.
//!
//! ontime's parts are started here rather than with `ontime_testkit::Ontime`, which picks a
//! prefix of its own: the permissions are written for the default prefix `ontime`, and are
//! tested as shipped.

use std::time::Duration;

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::{Client, ConnectOptions, Event, HeaderMap, ServerError};
use bytes::Bytes;
use futures::StreamExt;
use ontime_core::command::{Batch, Command, CommandBody};
use ontime_core::timer::TimerSpec;
use ontime_core::{Namespace, TimerId, TimerKey};
use ontime_nats::{Names, Topology, TopologyConfig, headers};
use ontime_testkit::NatsServer;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio_util::sync::CancellationToken;

const ONTIME_PASSWORD: &str = "ontime-test-password";
const BILLING_PASSWORD: &str = "billing-test-password";
/// The inbox prefix the permissions give `billing`.
const BILLING_INBOX: &str = "_INBOX_billing";
/// Long enough for a loaded machine; only a failing test waits this long.
const WAIT: Duration = Duration::from_secs(20);

/// The shipped permissions, with their password variables defined in the configuration
/// itself: nats-server looks a `$VARIABLE` up there before the environment, and the test
/// cannot change the environment the harness's server inherits.
fn config() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../nats/permissions.conf");
    let shipped = std::fs::read_to_string(path).expect("reading nats/permissions.conf");
    format!(
        "ONTIME_NATS_PASSWORD: \"{ONTIME_PASSWORD}\"\n\
         BILLING_NATS_PASSWORD: \"{BILLING_PASSWORD}\"\n\
         {shipped}"
    )
}

/// A gateway and a scheduler, in-process, connected as the `ontime` user under the default
/// prefix. Stopped when the test's runtime ends.
struct Ontime {
    api: String,
    http: reqwest::Client,
}

impl Ontime {
    async fn start(nats: &NatsServer) -> Self {
        let config = TopologyConfig::default();
        assert_eq!(config.names, Names::default());
        let shutdown = CancellationToken::new();
        let scheduler = topology(nats, &config).await;
        tokio::spawn(report_end(ontime_scheduler::run(
            scheduler,
            ontime_scheduler::SchedulerConfig::default(),
            shutdown.clone(),
        )));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(report_end(ontime_gateway::serve_with(
            listener,
            topology(nats, &config).await,
            ontime_gateway::GatewayConfig::default(),
            ontime_facades::router(ontime_facades::FacadeConfig::default()),
            shutdown,
        )));
        Self {
            api,
            http: reqwest::Client::new(),
        }
    }

    /// `GET /v1/namespaces/<ns>/timers/<id>`: the status and the document.
    async fn timer(&self, ns: &str, id: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}/namespaces/{ns}/timers/{id}", self.api))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// The topology on a connection of its own as the `ontime` user, whose credentials are in
/// the URL as an operator gives them (`--nats-url nats://ontime:…@host:port`).
async fn topology(nats: &NatsServer, config: &TopologyConfig) -> Topology {
    let url = nats
        .url()
        .replacen("nats://", &format!("nats://ontime:{ONTIME_PASSWORD}@"), 1);
    let client = ontime_nats::connect(&url, "ontime-test")
        .await
        .expect("ontime connects");
    Topology::ensure(client, config.clone())
        .await
        .expect("ontime creates its topology")
}

async fn report_end<E: std::fmt::Display>(part: impl Future<Output = Result<(), E>>) {
    if let Err(e) = part.await {
        eprintln!("part stopped with an error: {e}");
    }
}

/// `billing`'s connection, with its own inbox prefix, and the events of the connection (where
/// the server's permission violations arrive).
async fn billing(nats: &NatsServer) -> (Client, UnboundedReceiver<Event>) {
    let (events, received) = unbounded_channel();
    let client = ConnectOptions::with_user_and_password("billing".into(), BILLING_PASSWORD.into())
        .custom_inbox_prefix(BILLING_INBOX)
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                let _ = events.send(event);
            }
        })
        .connect(nats.url())
        .await
        .expect("billing connects");
    (client, received)
}

/// Waits for the server's permissions violation for `operation` ("Publish" or
/// "Subscription") on `subject`, skipping other events.
async fn expect_violation(events: &mut UnboundedReceiver<Event>, operation: &str, subject: &str) {
    let expected = format!("permissions violation for {operation} to \"{subject}\"").to_lowercase();
    let found = tokio::time::timeout(WAIT, async {
        while let Some(event) = events.recv().await {
            if let Event::ServerError(ServerError::Other(message)) = &event
                && message.to_lowercase().contains(&expected)
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no violation for {operation} to {subject}");
}

/// An upsert of `ns`/`id`, due in an hour (nothing fires during the test), as on the wire.
fn upsert(ns: &str, id: &str) -> (TimerKey, Vec<u8>) {
    let key = TimerKey::new(Namespace::parse(ns).unwrap(), TimerId::parse(id).unwrap());
    let spec: TimerSpec = serde_json::from_value(json!({
        "schedule": {"after": "1h"},
        "target": {"http": {"url": "https://billing.example/invoices/42"}}
    }))
    .unwrap();
    let command = Command::new(key.clone(), CommandBody::upsert(spec));
    (key, serde_json::to_vec(&command).unwrap())
}

/// Publishes `body` on `subject` with JetStream, asking for the scheduler's reply on a new
/// inbox of `client`; returns the acknowledgement to come and the reply's subscription.
async fn publish_asking_reply(
    client: &Client,
    subject: String,
    body: Vec<u8>,
) -> (PublishAckFuture, async_nats::Subscriber) {
    let inbox = client.new_inbox();
    assert!(inbox.starts_with(BILLING_INBOX), "{inbox}");
    let replies = client.subscribe(inbox.clone()).await.unwrap();
    let mut hdrs = HeaderMap::new();
    hdrs.insert(headers::REPLY_TO, inbox.as_str());
    let ack = async_nats::jetstream::new(client.clone())
        .publish_with_headers(subject, hdrs, Bytes::from(body))
        .await
        .expect("the publish is sent");
    (ack, replies)
}

async fn next_reply(replies: &mut async_nats::Subscriber) -> Value {
    let message = tokio::time::timeout(WAIT, replies.next())
        .await
        .expect("a reply from the scheduler")
        .expect("the subscription is open");
    serde_json::from_slice(&message.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_publishes_commands_for_its_namespace_and_hears_the_answers() {
    let nats = NatsServer::start_with_config(&config()).await;
    let ontime = Ontime::start(&nats).await;
    let (client, _events) = billing(&nats).await;
    let names = Names::default();

    let (key, body) = upsert("billing", "invoice-42");
    let (ack, mut replies) = publish_asking_reply(&client, names.cmd_subject(&key), body).await;
    let ack = ack.await.expect("JetStream acknowledges billing's command");
    assert_eq!(ack.stream, names.cmd_stream());
    let reply = next_reply(&mut replies).await;
    assert_eq!(reply["ok"], true, "{reply}");
    let (status, timer) = ontime.timer("billing", "invoice-42").await;
    assert_eq!(status, 200, "{timer}");
    assert_eq!(timer["id"], "invoice-42");

    let (_, single) = upsert("billing", "invoice-43");
    let namespace = Namespace::parse("billing").unwrap();
    let batch = Batch::encode(&namespace, &[single]);
    let (ack, mut replies) =
        publish_asking_reply(&client, names.cmd_batch_subject(&namespace), batch).await;
    ack.await.expect("JetStream acknowledges billing's batch");
    let reply = next_reply(&mut replies).await;
    assert_eq!(reply["results"][0]["ok"], true, "{reply}");
    let (status, timer) = ontime.timer("billing", "invoice-43").await;
    assert_eq!(status, 200, "{timer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_may_do_nothing_else() {
    let nats = NatsServer::start_with_config(&config()).await;
    let ontime = Ontime::start(&nats).await;
    let (client, mut events) = billing(&nats).await;
    let js = async_nats::jetstream::new(client.clone());
    let names = Names::default();

    // Another namespace: the server drops the command, so no acknowledgement ever comes.
    let (key, body) = upsert("shop", "order-1");
    let subject = names.cmd_subject(&key);
    let _never_acked = js
        .publish(subject.clone(), Bytes::from(body.clone()))
        .await
        .unwrap();
    expect_violation(&mut events, "Publish", &subject).await;
    let (status, _) = ontime.timer("shop", "order-1").await;
    assert_eq!(status, 404, "a refused command was applied");

    // Another namespace's batches, a subject below a command's (which no consumer reads),
    // forged attempt reports and calls, KV and the JetStream API.
    let (own, _) = upsert("billing", "invoice-42");
    let forbidden = [
        names.cmd_batch_subject(&Namespace::parse("shop").unwrap()),
        format!("{}.extra", names.cmd_subject(&own)),
        names.log_subject(&own),
        names.fire_subject(&own),
        names.kv_subject(&names.timers_bucket(), &own),
        format!("$JS.API.STREAM.INFO.{}", names.cmd_stream()),
    ];
    for subject in forbidden {
        client
            .publish(subject.clone(), Bytes::from(body.clone()))
            .await
            .unwrap();
        expect_violation(&mut events, "Publish", &subject).await;
    }
    // A JetStream API request, as a client library makes it.
    let request = tokio::spawn(async move { js.query_account().await });
    expect_violation(&mut events, "Publish", "$JS.API.INFO").await;
    request.abort();

    // ontime's subjects, KV, and the replies of clients on the default inbox prefix.
    for subject in ["ontime.>", "$KV.>", "_INBOX.>"] {
        let _subscription = client.subscribe(subject).await.unwrap();
        expect_violation(&mut events, "Subscription", subject).await;
    }

    let anonymous = async_nats::connect(nats.url()).await;
    assert!(
        anonymous.is_err(),
        "a client without credentials was let in"
    );
}
