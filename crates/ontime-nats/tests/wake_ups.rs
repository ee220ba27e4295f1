//! The timing wheel against a real nats-server: a second's wake-ups are read whole (the
//! stream leader's last sequence of the second checked), clearing a second removes what was
//! read and nothing filed after it, and a few wake-ups refused are not published twice.

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use ontime_core::fire::WakeUp;
use ontime_core::id::{Namespace, TimerId};
use ontime_nats::wake_ups::second_of;
use ontime_testkit::{NatsServer, topology};

fn wake(id: &str, due_at: DateTime<Utc>) -> WakeUp {
    WakeUp {
        namespace: Namespace::parse("ns").unwrap(),
        id: TimerId::parse(id).unwrap(),
        generation: 1,
        occurrence: 1,
        attempt: 1,
        due_at,
    }
}

#[tokio::test]
async fn a_second_is_read_whole_and_cleared_up_to_what_was_read() {
    let server = NatsServer::start().await;
    let t = topology(&server, "wu").await;
    // An hour ahead: the ticks stored with them do not come back during the test.
    let at = DateTime::from_timestamp(Utc::now().timestamp() + 3600, 0).unwrap();
    let second = second_of(at);
    let filed: Vec<(WakeUp, DateTime<Utc>)> = ["a", "b", "c"]
        .iter()
        .map(|id| (wake(id, at + Duration::seconds(2)), at))
        .chain([(wake("other", at), at + Duration::seconds(1))])
        .collect();
    t.wheel.publish_all(&filed).await.unwrap();

    let read = t.wheel.read_second(second).await.unwrap();
    let ids: Vec<&str> = read.iter().map(|(w, _)| w.id.as_str()).collect();
    assert_eq!(
        ids,
        ["a", "b", "c"],
        "the second's wake-ups, in the order filed"
    );
    let last = read.iter().map(|(_, seq)| *seq).max().unwrap();

    // Filed after the read: it stays for the tick its own arming stored.
    t.wheel.publish(&wake("late", at), at).await.unwrap();
    t.wheel.clear_second(second, last).await.unwrap();
    let left = t.wheel.read_second(second).await.unwrap();
    let ids: Vec<&str> = left.iter().map(|(w, _)| w.id.as_str()).collect();
    assert_eq!(ids, ["late"]);
    let next = t.wheel.read_second(second + 1).await.unwrap();
    assert_eq!(next.len(), 1, "another second is untouched");
    assert!(t.wheel.read_second(second + 2).await.unwrap().is_empty());
}

/// Fewer wake-ups than make an atomic batch are published one by one; refused, they are not
/// published a second time (the caller's redelivery stores them again). Seen by a plain
/// subscriber, which gets every publish whether the stream stores it or not.
#[tokio::test]
async fn a_few_wake_ups_refused_are_published_once() {
    let server = NatsServer::start().await;
    let t = topology(&server, "wr").await;
    let names = t.names();
    let mut stream = t.js.get_stream(names.slots_stream()).await.unwrap();
    let config = stream.info().await.unwrap().config.clone();
    t.js.update_stream(async_nats::jetstream::stream::Config {
        max_message_size: 1,
        ..config
    })
    .await
    .unwrap();
    let mut published = t.client.subscribe(names.slots_all()).await.unwrap();
    t.client.flush().await.unwrap();

    let at = DateTime::from_timestamp(Utc::now().timestamp() + 3600, 0).unwrap();
    let filed: Vec<(WakeUp, DateTime<Utc>)> = ["a", "b", "c"]
        .iter()
        .map(|id| (wake(id, at), at))
        .collect();
    assert!(t.wheel.publish_all(&filed).await.is_err());

    assert_eq!(
        publishes(&mut published).await,
        3,
        "each wake-up published once"
    );
}

/// An atomic batch of wake-ups that gets no answer (the server stopped for longer than the
/// ack timeout) is not published again one by one, which would wait as long again for each
/// and hold up the caller: the caller is told at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_wake_ups_without_an_answer_is_not_published_again() {
    let server = NatsServer::start().await;
    let t = topology(&server, "wt").await;
    let mut published = t.client.subscribe(t.names().slots_all()).await.unwrap();
    t.client.flush().await.unwrap();
    let at = DateTime::from_timestamp(Utc::now().timestamp() + 3600, 0).unwrap();
    let filed: Vec<(WakeUp, DateTime<Utc>)> =
        (0..10).map(|i| (wake(&format!("t{i}"), at), at)).collect();

    server.stop();
    let outcome = t.wheel.publish_all(&filed).await;
    server.resume();
    assert!(
        matches!(outcome, Err(ontime_nats::NatsError::TimedOut)),
        "{outcome:?}"
    );
    assert_eq!(
        publishes(&mut published).await,
        10,
        "each wake-up published once"
    );
}

/// How many messages `subscriber` gets until none has come for a second: every publish on its
/// subjects, whether a stream stored it or not.
async fn publishes(subscriber: &mut async_nats::Subscriber) -> usize {
    let mut seen = 0;
    while let Ok(Some(_)) =
        tokio::time::timeout(std::time::Duration::from_secs(1), subscriber.next()).await
    {
        seen += 1;
    }
    seen
}
