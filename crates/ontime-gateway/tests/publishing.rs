//! What the gateway publishes when no scheduler answers: a change is accepted (202) after
//! the reply timeout, its command carries the expected headers, the same idempotency key
//! publishes one command, and an ack that comes late is asked for again rather than the
//! stored command answered 503.

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, Nats, post_batch, quick, send, timer};
use ontime_nats::headers;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scheduler_a_change_is_accepted_after_the_reply_timeout() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    let started = Instant::now();
    let (status, doc) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t1",
        &[("if-match", "\"3\"")],
        timer().to_string(),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(status, 202, "{doc}");
    assert_eq!(doc["status"], "accepted");
    assert_eq!(
        (doc["namespace"].as_str(), doc["id"].as_str()),
        (Some("ns"), Some("t1"))
    );
    let command_id = doc["command_id"].as_str().unwrap().to_owned();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "took {took:?}"
    );

    let (status, doc) = send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers",
        &[],
        timer().to_string(),
    )
    .await;
    assert_eq!(status, 202, "{doc}");
    let generated = doc["id"].as_str().unwrap().to_owned();
    let commands = gw.stream_commands().await;
    assert_eq!(commands.len(), 2);
    let (put, hdrs) = &commands[0];
    assert_eq!(put.id.as_str(), "t1");
    assert_eq!(put.expected_revision, Some(3));
    assert!(matches!(
        put.body,
        ontime_core::command::CommandBody::Upsert { .. }
    ));
    assert_eq!(
        hdrs.get(headers::MSG_ID).map(|v| v.to_string()),
        Some(command_id)
    );
    assert!(hdrs.get(headers::REPLY_TO).is_some());
    let (post, _) = &commands[1];
    assert_eq!(
        post.id.as_str(),
        generated,
        "the answer names the generated id"
    );
    assert!(
        uuid::Uuid::parse_str(post.id.as_str()).is_ok(),
        "a generated id is a UUID: {}",
        post.id
    );
    assert_eq!(
        gw.state.replies.waiting(),
        0,
        "a timed-out request left its waiter behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_publishes_one_command() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    let key = [("idempotency-key", "order-42")];
    let (first, a) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t1",
        &key,
        timer().to_string(),
    )
    .await;
    let (second, b) = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t1",
        &key,
        timer().to_string(),
    )
    .await;
    assert_eq!((first, second), (202, 202), "{a} {b}");
    assert_eq!(a["command_id"], "idem/ns/order-42");
    assert_eq!(a["command_id"], b["command_id"]);
    // POST without an id names the same timer on a retry.
    let key = [("idempotency-key", "create-1")];
    send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers",
        &key,
        timer().to_string(),
    )
    .await;
    send(
        &gw,
        "POST",
        "/v1/namespaces/ns/timers",
        &key,
        timer().to_string(),
    )
    .await;
    let batch = [timer(), timer()];
    let key = [("idempotency-key", "b-1")];
    let first = post_batch(&gw, &batch, &key).await;
    let second = post_batch(&gw, &batch, &key).await;
    assert_eq!(first[1]["id"], second[1]["id"]);
    // Both items went in one message, whose id each reports, and so did their retry.
    for result in first.iter().chain(&second) {
        assert_eq!(result["command_id"], "idem-batch/ns/b-1/0-1", "{result}");
    }
    assert_eq!(
        gw.commands_on_stream().await,
        3,
        "one message per key: two single commands and one batch"
    );
    assert_eq!(
        gw.stream_commands().await.len(),
        4,
        "the batch message carries both items"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_that_comes_late_is_asked_for_again_not_answered_503() {
    // The server stops answering for longer than the ack timeout (1 s), then comes back:
    // the command was stored, so the answer is the 202 of a durable command, not a 503 that
    // would have the client send it again, and it is stored once.
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, quick()).await;
    nats.stop();
    let resume = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        nats.resume();
    };
    let put = send(
        &gw,
        "PUT",
        "/v1/namespaces/ns/timers/t1",
        &[],
        timer().to_string(),
    );
    let ((status, doc), ()) = tokio::join!(put, resume);
    assert_eq!(status, 202, "{doc}");
    assert_eq!(gw.commands_on_stream().await, 1, "stored once");
}
