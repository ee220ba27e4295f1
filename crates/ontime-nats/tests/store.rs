//! The timer store against a real nats-server: reads see writes, deletes and absence.

use chrono::Utc;
use ontime_core::TimerKey;
use ontime_core::command::{Command, CommandBody};
use ontime_core::state::{self, Applied};
use ontime_nats::{Names, Topology, TopologyConfig};
use ontime_testkit::NatsServer;

#[tokio::test]
async fn leader_reads_see_writes_deletes_and_absence() {
    let server = NatsServer::start().await;
    let client = ontime_nats::connect(&server.url(), "store-test")
        .await
        .unwrap();
    let topology = Topology::ensure(
        client,
        TopologyConfig {
            names: Names::new("st").unwrap(),
            ..TopologyConfig::default()
        },
    )
    .await
    .unwrap();
    // Both ways of reading: direct gets (one replica) and through the stream leader.
    check(&topology.timers, "ns.direct=2E1").await;
    check(
        &topology.timers.clone().reading_through_leader(),
        "ns.leader=2E1",
    )
    .await;
}

async fn check(store: &ontime_nats::TimerStore, suffix: &str) {
    let key = TimerKey::from_subject_suffix(suffix).unwrap();
    let missing = store.get(&key).await.unwrap();
    assert_eq!((missing.record, missing.revision), (None, 0));

    let spec = serde_json::from_value(serde_json::json!({
        "schedule": {"after": "1h"}, "target": {"http": {"url": "http://x.test/"}}
    }))
    .unwrap();
    let cmd = Command::new(key.clone(), CommandBody::Upsert { spec });
    let Applied::Changed(created) = state::apply(None, &cmd, 5, Utc::now(), Utc::now()).unwrap()
    else {
        panic!()
    };
    let revision = store.write(&created.record, 0).await.unwrap();
    let latest = store.get(&key).await.unwrap();
    assert_eq!(latest.revision, revision);
    assert_eq!(latest.record.as_ref(), Some(&created.record));

    let delete = Command::new(key.clone(), CommandBody::Delete);
    let Applied::Changed(gone) = state::apply(
        Some((&created.record, revision)),
        &delete,
        6,
        Utc::now(),
        Utc::now(),
    )
    .unwrap() else {
        panic!()
    };
    let revision = store.write(&gone.record, revision).await.unwrap();
    let latest = store.get(&key).await.unwrap();
    assert_eq!(latest.revision, revision);
    assert_eq!(
        latest.record.map(|r| r.status),
        Some(ontime_core::timer::TimerStatus::Cancelled)
    );
    // A write against a stale revision is refused.
    assert!(matches!(
        store.write(&gone.record, revision - 1).await,
        Err(ontime_nats::NatsError::Conflict)
    ));
}
