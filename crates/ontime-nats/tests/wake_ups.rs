//! The timing wheel against a real nats-server: a second's wake-ups are read whole (the
//! stream leader's last sequence of the second checked), and clearing a second removes
//! what was read and nothing filed after it.

use chrono::{DateTime, Duration, Utc};
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
