//! The pull loop's containment against a real nats-server: a message whose handling panics,
//! or fails on every delivery, is buried in the dead letters, its publisher is told, and the
//! consumer's other messages go on being handled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{Message, consumer::PullConsumer};
use bytes::Bytes;
use futures::StreamExt;
use ontime_nats::headers;
use ontime_nats::pull::{Containment, Handled};
use ontime_testkit::{NatsServer, eventually, topology};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Runs the pull loop on `consumer`: a payload `panic` panics, `fail` fails, anything else
/// is acknowledged; every handling is counted by payload.
fn run(
    consumer: PullConsumer,
    containment: Containment,
    seen: Arc<Mutex<HashMap<String, usize>>>,
    shutdown: CancellationToken,
) {
    tokio::spawn(ontime_nats::pull::consume(
        consumer,
        Arc::new(Semaphore::new(8)),
        shutdown,
        containment,
        move |message: Message| {
            let seen = seen.clone();
            async move {
                let payload = String::from_utf8_lossy(&message.payload).to_string();
                *seen.lock().unwrap().entry(payload.clone()).or_default() += 1;
                let seen_now = seen.lock().unwrap()[&payload];
                match payload.as_str() {
                    "panic" => panic!("a bug in handling this message"),
                    "fail" => Handled::Failed("it fails every time".into()),
                    "flaky" if seen_now <= 4 => Handled::Failed("an outage".into()),
                    _ => {
                        message.ack().await.unwrap();
                        Handled::Done
                    }
                }
            }
        },
    ));
}

#[tokio::test]
async fn poison_messages_are_buried_and_the_others_handled() {
    let server = NatsServer::start().await;
    let topology = topology(&server, "contain").await;
    let names = topology.names().clone();
    let key = ontime_core::TimerKey::new(
        ontime_core::Namespace::parse("ns").unwrap(),
        ontime_core::TimerId::parse("t").unwrap(),
    );
    let inbox = topology.client.new_inbox();
    let mut answers = topology.client.subscribe(inbox.clone()).await.unwrap();
    for payload in ["panic", "fail", "ok"] {
        let mut hdrs = async_nats::HeaderMap::new();
        hdrs.insert(headers::MSG_ID, payload);
        hdrs.insert(headers::REPLY_TO, inbox.as_str());
        topology
            .js
            .publish_with_headers(names.fire_subject(&key), hdrs, Bytes::from(payload))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let consumer = topology
        .consumer(&names.fire_stream(), names.fire_consumer())
        .await
        .unwrap();
    let containment = Containment {
        dead: topology.dead.clone().answering(Arc::new(|message, reason| {
            let to = message
                .headers
                .as_ref()?
                .get(headers::REPLY_TO)?
                .to_string();
            Some((to, Bytes::from(format!("buried: {reason}"))))
        })),
        max_deliveries: 3,
        max_age: Duration::ZERO,
    };
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let shutdown = CancellationToken::new();
    run(consumer, containment, seen.clone(), shutdown.clone());

    // Both poison messages reach the dead letters, with why and where from.
    let dead = topology.js.get_stream(names.dead_stream()).await.unwrap();
    eventually(Duration::from_secs(30), "two dead letters", || {
        let mut dead = dead.clone();
        async move { (dead.info().await.ok()?.state.messages == 2).then_some(()) }
    })
    .await;
    let mut reasons = HashMap::new();
    for seq in 1..=2 {
        let letter = dead.get_raw_message(seq).await.unwrap();
        let payload = String::from_utf8_lossy(&letter.payload).to_string();
        let reason = letter
            .headers
            .get(headers::DEAD_REASON)
            .unwrap()
            .to_string();
        assert_eq!(
            letter.headers.get(headers::DEAD_SUBJECT).unwrap().as_str(),
            names.fire_subject(&key)
        );
        assert_eq!(
            letter
                .headers
                .get(headers::DEAD_DELIVERIES)
                .unwrap()
                .as_str(),
            "3"
        );
        reasons.insert(payload, reason);
    }
    assert!(
        reasons["panic"].contains("a bug in handling this message"),
        "{reasons:?}"
    );
    assert!(
        reasons["fail"].contains("it fails every time"),
        "{reasons:?}"
    );
    let mut told = Vec::new();
    for _ in 0..2 {
        let answer = tokio::time::timeout(Duration::from_secs(10), answers.next())
            .await
            .unwrap()
            .unwrap();
        told.push(String::from_utf8_lossy(&answer.payload).to_string());
    }
    assert!(told.iter().all(|t| t.starts_with("buried: ")), "{told:?}");

    // Handled three times each, then never again; the good message once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen["panic"], 3, "{seen:?}");
    assert_eq!(seen["fail"], 3, "{seen:?}");
    assert_eq!(seen["ok"], 1, "{seen:?}");
    let mut workers = topology
        .consumer(&names.fire_stream(), names.fire_consumer())
        .await
        .unwrap();
    let info = workers.info().await.unwrap();
    assert_eq!(
        (info.num_pending, info.num_ack_pending),
        (0, 0),
        "every message was settled"
    );
    shutdown.cancel();
}

/// A message that fails through an outage, however often it is handed back meanwhile, is not
/// buried while it is younger than the consumer's `max_age`: it is a timer, not a poison.
#[tokio::test]
async fn a_young_message_failing_through_an_outage_is_not_buried() {
    let server = NatsServer::start().await;
    let topology = topology(&server, "young").await;
    let names = topology.names().clone();
    let key = ontime_core::TimerKey::new(
        ontime_core::Namespace::parse("ns").unwrap(),
        ontime_core::TimerId::parse("t").unwrap(),
    );
    let mut hdrs = async_nats::HeaderMap::new();
    hdrs.insert(headers::MSG_ID, "flaky");
    topology
        .js
        .publish_with_headers(names.fire_subject(&key), hdrs, Bytes::from("flaky"))
        .await
        .unwrap()
        .await
        .unwrap();
    let consumer = topology
        .consumer(&names.fire_stream(), names.fire_consumer())
        .await
        .unwrap();
    let containment = Containment {
        dead: topology.dead.clone(),
        max_deliveries: 2,
        max_age: Duration::from_secs(3600),
    };
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let shutdown = CancellationToken::new();
    run(consumer, containment, seen.clone(), shutdown.clone());
    eventually(
        Duration::from_secs(30),
        "the flaky message to be handled",
        || {
            let seen = seen.clone();
            async move { (seen.lock().unwrap().get("flaky").copied() == Some(5)).then_some(()) }
        },
    )
    .await;
    let mut dead = topology.js.get_stream(names.dead_stream()).await.unwrap();
    assert_eq!(
        dead.info().await.unwrap().state.messages,
        0,
        "nothing buried"
    );
    let workers = topology
        .consumer(&names.fire_stream(), names.fire_consumer())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the flaky message to be settled",
        || {
            let mut workers = workers.clone();
            async move {
                let info = workers.info().await.ok()?;
                (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
            }
        },
    )
    .await;
    shutdown.cancel();
}
