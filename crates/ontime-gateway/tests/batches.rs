//! How a batch request travels: its valid items go as few batch messages as fit (one, for
//! a modest batch), an item too large for a batch message goes alone, a timer named twice
//! is refused at the gateway, a retry is answered from the stored state, and a batch the
//! scheduler refuses whole refuses each item.

mod common;

use common::{FakeScheduler, Gateway, Nats, named, patient, post_batch, timer};
use ontime_core::{Namespace, TimerId, TimerKey, ValidationError};
use serde_json::{Value, json};

/// Asserts every result is `status` with the timer its item named.
fn assert_applied(results: &[Value], items: &[Value], status: u16) {
    for (i, (result, item)) in results.iter().zip(items).enumerate() {
        assert_eq!(result["index"], i, "{result}");
        assert_eq!(
            (result["status"].as_u64(), &result["timer"]["id"]),
            (Some(u64::from(status)), &item["id"]),
            "{result}"
        );
    }
}

/// The messages the scheduler took: the sizes of the batches of namespace `ns`, and how
/// many single commands for the `alone` timers (there must be nothing else).
fn taken(gw: &Gateway, scheduler: &FakeScheduler, alone: &[&str]) -> (Vec<usize>, usize) {
    let names = gw.topology.names();
    let ns = Namespace::parse("ns").unwrap();
    let batch = names.cmd_batch_subject(&ns);
    let single: Vec<String> = alone
        .iter()
        .map(|id| names.cmd_subject(&TimerKey::new(ns.clone(), TimerId::parse(id).unwrap())))
        .collect();
    let taken = scheduler.taken();
    let batches: Vec<usize> = taken
        .iter()
        .filter(|(s, _)| *s == batch)
        .map(|(_, size)| *size)
        .collect();
    let singles = taken.iter().filter(|(s, _)| single.contains(s)).count();
    assert_eq!(batches.len() + singles, taken.len(), "{taken:?}");
    (batches, singles)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_goes_as_one_message_and_each_item_answers_with_its_timer() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, patient()).await;
    let scheduler = gw.fake_scheduler().await;
    let items = named("b", 50);
    let results = post_batch(&gw, &items, &[]).await;
    assert_applied(&results, &items, 201);
    let (batches, singles) = taken(&gw, &scheduler, &[]);
    assert_eq!((batches.len(), singles), (1, 0));
    assert_eq!(gw.commands_published().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_budget_is_split_and_an_item_over_it_goes_alone() {
    // A batch message takes at most half of max_payload (32 KB here): some 7 items of 4 KB.
    let nats = Nats::start_with_config("max_payload: 64KB").await;
    let gw = Gateway::start(&nats, patient()).await;
    let scheduler = gw.fake_scheduler().await;
    let mut items = named("p", 20);
    for (i, item) in items.iter_mut().enumerate() {
        let pad = if i == 10 { 40_000 } else { 4_000 };
        item["target"]["http"]["body"] = json!({ "pad": "x".repeat(pad) });
    }
    let results = post_batch(&gw, &items, &[]).await;
    assert_applied(&results, &items, 201);
    let (batches, singles) = taken(&gw, &scheduler, &["p10"]);
    // Items 0-9 and 11-19 (some 40 KB each) need two batch messages each.
    assert_eq!((batches.len(), singles), (4, 1), "{batches:?}");
    assert!(batches.iter().all(|size| *size <= 32 * 1024), "{batches:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_naming_a_timer_named_before_is_refused_and_the_others_applied() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, patient()).await;
    let _scheduler = gw.fake_scheduler().await;
    let mut items = named("d", 3);
    items[1]["id"] = json!("d0");
    let results = post_batch(&gw, &items, &[]).await;
    let error = &results[1]["error"];
    assert_eq!(
        (results[1]["status"].as_u64(), error["field"].as_str()),
        (Some(422), Some("timers[1].id")),
        "{error}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("timers[0]"),
        "{error}"
    );
    assert_applied(&results[..1], &items[..1], 201);
    assert_eq!(results[2]["timer"]["id"], "d2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_is_answered_with_the_same_timers_and_stores_nothing_new() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, patient()).await;
    let _scheduler = gw.fake_scheduler().await;
    // Items without an id: a retry must name the same timers.
    let items = [timer(), timer(), timer()];
    let key = [("idempotency-key", "retry-1")];
    let first = post_batch(&gw, &items, &key).await;
    let published = gw.commands_published().await;
    let second = post_batch(&gw, &items, &key).await;
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(
            (a["status"].as_u64(), b["status"].as_u64()),
            (Some(201), Some(200))
        );
        assert_eq!((&a["id"], &a["timer"]), (&b["id"], &b["timer"]));
    }
    assert_eq!(gw.commands_published().await, published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_whole_refuses_each_item() {
    let nats = Nats::start().await;
    let gw = Gateway::start(&nats, patient()).await;
    let refusal = ValidationError::invalid("v", "unsupported wire version 1");
    let _scheduler = gw.refusing_scheduler(refusal.clone()).await;
    let results = post_batch(&gw, &named("w", 2), &[]).await;
    for result in results {
        assert_eq!(result["status"], 422, "{result}");
        assert_eq!(result["error"], serde_json::to_value(&refusal).unwrap());
    }
}
