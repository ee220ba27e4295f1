//! The timer store against a real nats-server: reads see writes, deletes and absence.

use chrono::Utc;
use ontime_core::TimerKey;
use ontime_core::command::{Command, CommandBody};
use ontime_core::state::{self, Applied};
use ontime_core::timer::{TimerRecord, TimerStatus};
use ontime_testkit::{NatsServer, topology};

/// A new timer `key`, due in an hour, as the scheduler would first write it.
fn created(key: &TimerKey) -> TimerRecord {
    let spec = serde_json::from_value(serde_json::json!({
        "schedule": {"after": "1h"}, "target": {"http": {"url": "http://x.test/"}}
    }))
    .unwrap();
    let cmd = Command::new(key.clone(), CommandBody::upsert(spec));
    match state::apply(None, &cmd, 5, Utc::now(), Utc::now()).unwrap() {
        Applied::Changed(outcome) => outcome.record,
        Applied::Unchanged => panic!("an upsert creates a timer"),
    }
}

/// `record` at `revision` after a delete: cancelled.
fn deleted(record: &TimerRecord, revision: u64) -> TimerRecord {
    let delete = Command::new(record.key(), CommandBody::Delete);
    match state::apply(Some((record, revision)), &delete, 6, Utc::now(), Utc::now()).unwrap() {
        Applied::Changed(outcome) => outcome.record,
        Applied::Unchanged => panic!("a delete cancels a timer"),
    }
}

#[tokio::test]
async fn leader_reads_see_writes_deletes_and_absence() {
    let server = NatsServer::start().await;
    let topology = topology(&server, "st").await;
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

    let created = created(&key);
    let revision = store.write(&created, 0).await.unwrap();
    let latest = store.get(&key).await.unwrap();
    assert_eq!(latest.revision, revision);
    assert_eq!(latest.record.as_ref(), Some(&created));

    let gone = deleted(&created, revision);
    let revision = store.write(&gone, revision).await.unwrap();
    let latest = store.get(&key).await.unwrap();
    assert_eq!(latest.revision, revision);
    assert_eq!(
        latest.record.map(|r| r.status),
        Some(ontime_core::timer::TimerStatus::Cancelled)
    );
    // A write against a stale revision is refused.
    assert!(matches!(
        store.write(&gone, revision - 1).await,
        Err(ontime_nats::NatsError::Conflict)
    ));
}

/// Writes a new timer `suffix` (`<ns>.<id>`) straight to the store; cancelled when `cancel`.
async fn put(store: &ontime_nats::TimerStore, suffix: &str, cancel: bool) {
    let record = created(&TimerKey::from_subject_suffix(suffix).unwrap());
    let revision = store.write(&record, 0).await.unwrap();
    if cancel {
        store
            .write(&deleted(&record, revision), revision)
            .await
            .unwrap();
    }
}

/// Every page of a listing by status, following the cursors: the ids of each page.
async fn pages(
    store: &ontime_nats::TimerStore,
    status: Option<TimerStatus>,
    limit: usize,
) -> Vec<Vec<String>> {
    let filter = ontime_core::metadata::TimerFilter::status(status);
    filtered_pages(store, "ns", &filter, limit).await
}

#[tokio::test]
async fn listing_pages_through_a_namespace_in_id_order_past_runs_of_cancelled_timers() {
    let server = NatsServer::start().await;
    let topology = topology(&server, "ls").await;
    let store = &topology.timers;
    // 100 cancelled timers in a row (more than a listing looks at in one go), then live and
    // cancelled ones mixed, written in an order that is not the ids' (37 is prime to 160);
    // and one timer of another namespace, whose id sorts among them.
    let mut live = Vec::new();
    let mut cancelled = Vec::new();
    for j in 0..160 {
        let i = (j * 37) % 160;
        let id = format!("t{i:03}");
        let cancel = i < 100 || i % 4 == 0;
        put(store, &format!("ns.{id}"), cancel).await;
        if cancel {
            cancelled.push(id);
        } else {
            live.push(id);
        }
    }
    put(store, "other.t050x", false).await;
    // Among the live ones, an unreadable entry and a deleted key: neither is listed.
    let bucket = format!("$KV.{}.ns", topology.names().timers_bucket());
    let ack = topology
        .js
        .publish(format!("{bucket}.t155x"), "not a record".into())
        .await
        .unwrap();
    ack.await.unwrap();
    let mut deleted = async_nats::HeaderMap::new();
    deleted.insert("KV-Operation", "DEL");
    let ack = topology
        .js
        .publish_with_headers(format!("{bucket}.t157x"), deleted, "".into())
        .await
        .unwrap();
    ack.await.unwrap();
    live.sort();
    cancelled.sort();

    // Without a status: the live ones, in id order, each once, pages of the size asked.
    let all = pages(store, None, 7).await;
    assert!(all[..all.len() - 1].iter().all(|p| p.len() == 7), "{all:?}");
    assert_eq!(all.concat(), live);
    assert_eq!(pages(store, None, 1000).await, vec![live.clone()]);
    // Page boundaries that fall exactly on the end leave no empty page behind.
    assert_eq!(pages(store, None, live.len()).await, vec![live.clone()]);

    // With a status: only those, also in id order.
    let only_cancelled = pages(store, Some(TimerStatus::Cancelled), 30).await;
    assert_eq!(only_cancelled.len(), cancelled.len().div_ceil(30));
    assert_eq!(only_cancelled.concat(), cancelled);
    assert_eq!(
        pages(store, Some(TimerStatus::Scheduled), 9).await.concat(),
        live
    );
    assert_eq!(
        pages(store, Some(TimerStatus::Succeeded), 9).await,
        vec![Vec::<String>::new()]
    );
}

/// Marks only rise, however many schedulers raise them at once and in whatever order: a
/// lower mark written last would let a worker call a definition that was replaced.
#[tokio::test]
async fn marks_only_rise_under_concurrent_raises() {
    use ontime_core::timer::Mark;
    let server = NatsServer::start().await;
    let topology = topology(&server, "mk").await;
    let marks = &topology.marks;
    let key = TimerKey::from_subject_suffix("ns.a=2Eb").unwrap();
    assert_eq!(marks.get(&key).await.unwrap(), None, "no mark yet");

    let mark = Mark::of;
    marks.raise(&key, mark(5, false)).await.unwrap();
    marks.raise(&key, mark(7, false)).await.unwrap();
    marks.raise(&key, mark(6, true)).await.unwrap();
    assert_eq!(marks.get(&key).await.unwrap(), Some(mark(7, false)));
    marks.raise(&key, mark(7, true)).await.unwrap();
    marks.raise(&key, mark(7, false)).await.unwrap();
    assert_eq!(marks.get(&key).await.unwrap(), Some(mark(7, true)));

    // 40 raises at once, on separate connections, in a shuffled order.
    let other = TimerKey::from_subject_suffix("ns.c").unwrap();
    let mut generations: Vec<u64> = (1..=40).collect();
    generations.sort_by_key(|g| (g * 7919) % 41);
    let mut raises = Vec::new();
    for generation in generations {
        let topology = ontime_testkit::topology(&server, "mk").await;
        let other = other.clone();
        raises.push(tokio::spawn(async move {
            topology
                .marks
                .raise(&other, mark(generation, generation % 3 == 0))
                .await
        }));
    }
    for raise in raises {
        raise.await.unwrap().unwrap();
    }
    assert_eq!(marks.get(&other).await.unwrap(), Some(mark(40, false)));
    assert_eq!(
        topology.marks.get(&key).await.unwrap(),
        Some(mark(7, true)),
        "marks of different timers are apart"
    );
}

/// Every page of a listing of namespace `ns` by `filter`, following the cursors: the ids of
/// each page.
async fn filtered_pages(
    store: &ontime_nats::TimerStore,
    ns: &str,
    filter: &ontime_core::metadata::TimerFilter,
    limit: usize,
) -> Vec<Vec<String>> {
    let ns = ontime_core::Namespace::parse(ns).unwrap();
    let mut cursor: Option<String> = None;
    let mut out = Vec::new();
    loop {
        let page = store
            .list_matching(&ns, filter, limit, cursor.as_deref())
            .await
            .unwrap();
        out.push(page.items.iter().map(|(r, _)| r.id.to_string()).collect());
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

#[tokio::test]
async fn listing_by_metadata_pages_through_the_matching_timers_alone() {
    use ontime_core::metadata::TimerFilter;
    let server = NatsServer::start().await;
    let topology = topology(&server, "lm").await;
    let store = &topology.timers;
    // 60 timers: `app` is crony for every other one, `team` a/b/c by thirds; every fifth is
    // cancelled; written in an order that is not the ids'.
    let mut expected_crony = Vec::new();
    let mut expected_crony_a = Vec::new();
    let mut expected_cancelled_crony = Vec::new();
    for j in 0..60 {
        let i = (j * 7) % 60;
        let id = format!("m{i:02}");
        let key = TimerKey::from_subject_suffix(&format!("md.{id}")).unwrap();
        let mut record = created(&key);
        let app = if i % 2 == 0 { "crony" } else { "other" };
        let team = ["a", "b", "c"][i % 3];
        record.spec.metadata = [("app", app), ("team", team)]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let revision = store.write(&record, 0).await.unwrap();
        let cancel = i % 5 == 0;
        if cancel {
            store
                .write(&deleted(&record, revision), revision)
                .await
                .unwrap();
        }
        match (app, team, cancel) {
            ("crony", _, true) => expected_cancelled_crony.push(id),
            ("crony", "a", false) => {
                expected_crony_a.push(id.clone());
                expected_crony.push(id);
            }
            ("crony", _, false) => expected_crony.push(id),
            _ => {}
        }
    }
    expected_crony.sort();
    expected_crony_a.sort();
    expected_cancelled_crony.sort();

    let mut crony = TimerFilter::status(None);
    crony.require("app", "crony").unwrap();
    let got = filtered_pages(store, "md", &crony, 4).await;
    assert!(got[..got.len() - 1].iter().all(|p| p.len() == 4), "{got:?}");
    assert_eq!(got.concat(), expected_crony, "live timers with app=crony");

    let mut crony_a = crony.clone();
    crony_a.require("team", "a").unwrap();
    assert_eq!(
        filtered_pages(store, "md", &crony_a, 3).await.concat(),
        expected_crony_a
    );

    let mut cancelled = crony.clone();
    cancelled.status = Some(TimerStatus::Cancelled);
    assert_eq!(
        filtered_pages(store, "md", &cancelled, 2).await.concat(),
        expected_cancelled_crony
    );
    cancelled.status = Some(TimerStatus::Scheduled);
    assert_eq!(
        filtered_pages(store, "md", &cancelled, 100).await.concat(),
        expected_crony
    );

    let mut none = TimerFilter::status(None);
    none.require("app", "nobody").unwrap();
    assert_eq!(
        filtered_pages(store, "md", &none, 10).await,
        vec![Vec::<String>::new()]
    );
}

#[tokio::test]
async fn new_timers_are_created_together_all_or_none() {
    let server = NatsServer::start().await;
    let topology = topology(&server, "st").await;
    let store = &topology.timers;
    let keys = |from: usize, count: usize| -> Vec<TimerKey> {
        (from..from + count)
            .map(|i| TimerKey::from_subject_suffix(&format!("ns.t{i}")).unwrap())
            .collect()
    };

    // A batch large enough to go as one atomic batch, and one small enough to go one by one:
    // each record reads back at the revision it was given.
    for batch in [keys(0, 40), keys(40, 3)] {
        let records: Vec<TimerRecord> = batch.iter().map(created).collect();
        let revisions = store.create_all(&records).await.unwrap();
        assert_eq!(revisions.len(), records.len());
        for (record, revision) in records.iter().zip(&revisions) {
            let slot = store.get(&record.key()).await.unwrap();
            assert_eq!(slot.revision, *revision);
            assert_eq!(slot.record.as_ref(), Some(record));
        }
    }

    // One taken key refuses the whole batch: none of the others is written.
    let mut batch = keys(100, 30);
    batch.push(keys(7, 1).remove(0));
    let records: Vec<TimerRecord> = batch.iter().map(created).collect();
    assert!(matches!(
        store.create_all(&records).await,
        Err(ontime_nats::NatsError::Conflict)
    ));
    for key in keys(100, 30) {
        assert_eq!(store.get(&key).await.unwrap().record, None);
    }
}

/// Reads leave no consumer behind: a console refreshing a log many times a second would
/// otherwise pile them up to the server's limit, and every read would be refused.
#[tokio::test]
async fn reads_leave_no_consumer_behind() {
    let server = NatsServer::start().await;
    let topology = topology(&server, "rd").await;
    let key = TimerKey::from_subject_suffix("ns.read").unwrap();
    let record = created(&key);
    topology.timers.write(&record, 0).await.unwrap();
    let names = topology.names();
    let mut log = topology.js.get_stream(names.log_stream()).await.unwrap();
    let before = log.info().await.unwrap().state.consumer_count;
    let mut kv = topology
        .js
        .get_stream(format!("KV_{}", names.timers_bucket()))
        .await
        .unwrap();
    let kv_before = kv.info().await.unwrap().state.consumer_count;
    let ns = ontime_core::Namespace::parse("ns").unwrap();
    let filter = ontime_core::metadata::TimerFilter::status(Some(TimerStatus::Scheduled));
    for _ in 0..50 {
        topology.log.entries(&key).await.unwrap();
        let page = topology
            .timers
            .list_matching(&ns, &filter, 10, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
    }
    assert_eq!(log.info().await.unwrap().state.consumer_count, before);
    assert_eq!(kv.info().await.unwrap().state.consumer_count, kv_before);
}
