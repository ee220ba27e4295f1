//! Workers' reports reach the record through the execution log (the log entry is the
//! report), with no read when the scheduler remembers the record it fired, and correctly when
//! that remembered copy has gone stale.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;
use futures::StreamExt;
use ontime_core::command::{Command, CommandBody};
use ontime_core::fire::Fire;
use ontime_core::timer::{Attempt, AttemptOutcome, TimerRecord, TimerStatus};
use ontime_core::{Namespace, TimerId, TimerKey};
use ontime_nats::{Names, Topology, TopologyConfig};
use tokio_util::sync::CancellationToken;

async fn topology(url: &str) -> Topology {
    let client = ontime_nats::connect(url, "test").await.unwrap();
    let config = TopologyConfig {
        names: Names::new("r1").unwrap(),
        ..Default::default()
    };
    Topology::ensure(client, config).await.unwrap()
}

fn key(id: &str) -> TimerKey {
    TimerKey::new(Namespace::parse("ns").unwrap(), TimerId::parse(id).unwrap())
}

async fn command(t: &Topology, cmd: &Command) {
    t.js.publish(
        t.names().cmd_subject(&cmd.key()),
        serde_json::to_vec(cmd).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

async fn upsert_due_now(t: &Topology, id: &str) {
    let spec = serde_json::from_value(serde_json::json!({
        "schedule": {"at": Utc::now() + chrono::Duration::milliseconds(300)},
        "target": {"http": {"url": "http://127.0.0.1:9/"}}
    }))
    .unwrap();
    command(t, &Command::new(key(id), CommandBody::upsert(spec))).await;
}

/// Takes the next fire message, as a worker would.
async fn next_fire(t: &Topology) -> Fire {
    let consumer: PullConsumer = t
        .consumer(&t.names().fire_stream(), t.names().fire_consumer())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await
        .expect("a fire within 10 s")
        .unwrap()
        .unwrap();
    msg.ack().await.unwrap();
    serde_json::from_slice(&msg.payload).unwrap()
}

async fn report_success(t: &Topology, fire: &Fire) {
    let attempt = Attempt {
        delivery_id: fire.delivery_id(),
        generation: fire.generation,
        occurrence: fire.occurrence,
        attempt: 1,
        due_at: fire.due_at,
        occurrence_due_at: Some(fire.occurrence_due_at),
        started_at: Utc::now(),
        latency_ms: 3,
        status_code: Some(200),
        error: None,
        outcome: AttemptOutcome::Succeeded,
        next_at: None,
        subscriber: None,
        subscribers: Vec::new(),
        fan_out: 0,
        run: None,
        note: None,
        response: None,
    };
    t.log.report(&attempt, &fire.key(), false).await.unwrap();
}

async fn record_when(
    t: &Topology,
    id: &str,
    what: &str,
    done: impl Fn(&TimerRecord) -> bool,
) -> TimerRecord {
    for _ in 0..200 {
        if let Some(r) = t.timers.get(&key(id)).await.unwrap().record
            && done(&r)
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id}: never {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_entry_is_the_report_even_against_a_stale_remembered_record() {
    let server = ontime_testkit::NatsServer::start().await;
    let t = topology(&server.url()).await;
    let shutdown = CancellationToken::new();
    tokio::spawn(ontime_scheduler::run(
        topology(&server.url()).await,
        Default::default(),
        shutdown.clone(),
    ));

    // The scheduler fired `fresh` and remembers its record: the report applies to that copy.
    upsert_due_now(&t, "fresh").await;
    let fire = next_fire(&t).await;
    report_success(&t, &fire).await;
    let r = record_when(&t, "fresh", "succeeded", |r| {
        r.status == TimerStatus::Succeeded
    })
    .await;
    assert_eq!((r.runs, r.successes, r.attempts), (1, 1, 1));
    assert_eq!(r.last_result.unwrap().status_code, Some(200));

    // `stale`: between the firing and the report, a pause rewrites the record, so the copy
    // the scheduler remembers is one revision behind. The report must not write over the pause.
    upsert_due_now(&t, "stale").await;
    let fire = next_fire(&t).await;
    command(&t, &Command::new(key("stale"), CommandBody::Pause)).await;
    let paused = record_when(&t, "stale", "paused", |r| r.status == TimerStatus::Paused).await;
    report_success(&t, &fire).await;
    let r = record_when(&t, "stale", "reported", |r| r.successes == 1).await;
    assert_eq!(r.last_command, paused.last_command, "the pause is kept");
    assert_eq!((r.runs, r.successes), (1, 1));
    assert_eq!(r.status, TimerStatus::Succeeded);

    // A report sent twice (a worker retrying it) is stored and applied once.
    report_success(&t, &fire).await;
    let mut log = t.js.get_stream(t.names().log_stream()).await.unwrap();
    assert_eq!(log.info().await.unwrap().state.messages, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = t.timers.get(&key("stale")).await.unwrap().record.unwrap();
    assert_eq!(again.successes, 1);
    shutdown.cancel();
}
