//! A topic's occurrence: fanned out into one fire per subscriber, each delivered to its own
//! target.

use ontime_core::TimerKey;
use ontime_core::fire::Fire;
use ontime_core::id::{SubscriberId, TopicName};
use ontime_core::retry::RetryPolicy;
use ontime_core::target::{AnswerUse, Target, TopicTarget};
use ontime_core::timer::{Attempt, AttemptOutcome};
use ontime_nats::settle::Delivery;

use crate::Ctx;
use crate::deliver::Settle;
use crate::report::{report, report_and_settle, retry_soon};

/// The target of `subscriber`'s delivery of a topic occurrence, and its own retry policy;
/// `None` when the topic no longer has it. Subscribers' answers never steer the timer: a
/// 2xx is a success.
pub(crate) async fn subscriber_target(
    ctx: &Ctx,
    key: &TimerKey,
    topic: &TopicTarget,
    subscriber: &SubscriberId,
) -> Result<Option<(Target, Option<RetryPolicy>)>, ontime_nats::NatsError> {
    let Ok(name) = TopicName::parse(&topic.name) else {
        return Ok(None);
    };
    let Some((record, _)) = ctx.topology.topics.get(&key.namespace, &name).await? else {
        return Ok(None);
    };
    Ok(record.subscribers.get(subscriber).map(|entry| {
        let mut target = entry.target.delivering(topic);
        if let Some(http) = &mut target.http {
            http.answer = AnswerUse::Status;
        }
        (target, entry.retry)
    }))
}

/// Fans a topic's occurrence out: one fire per subscriber it has now (or had when this
/// occurrence was first fanned out, if a worker did so before), reported first so that the
/// schedulers know how many deliveries the occurrence waits for.
pub(crate) async fn fan_out(
    ctx: &Ctx,
    fire: &Fire,
    key: &TimerKey,
    topic: &TopicTarget,
    mut attempt: Attempt,
    delivery: Delivery,
) {
    let retry_later = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, timer = %key, "fanning out failed; retrying");
    };
    let name = TopicName::parse(&topic.name);
    let found = match &name {
        Ok(name) => ctx.topology.topics.get(&key.namespace, name).await,
        Err(_) => Ok(None),
    };
    let current: Vec<SubscriberId> = match found {
        Ok(Some((record, _))) => record.subscribers.into_keys().collect(),
        Ok(None) => {
            attempt.outcome = AttemptOutcome::Failed;
            attempt.error = Some(format!("topic {} does not exist", topic.name));
            return report_and_settle(ctx, key, attempt, false, Settle::Ack, delivery).await;
        }
        Err(e) => {
            retry_later(&e);
            return retry_soon(delivery).await;
        }
    };
    let subscribers = match ctx
        .topology
        .topics
        .fan_out(&fire.delivery_id(), current)
        .await
    {
        Ok(subscribers) => subscribers,
        Err(e) => {
            retry_later(&e);
            return retry_soon(delivery).await;
        }
    };
    let size = u32::try_from(subscribers.len()).unwrap_or(u32::MAX);
    attempt.outcome = AttemptOutcome::FannedOut;
    attempt.error = subscribers
        .is_empty()
        .then(|| format!("topic {} has no subscribers", topic.name));
    attempt.subscribers = subscribers.clone();
    if !report(ctx, key, attempt, false).await {
        return retry_soon(delivery).await;
    }
    let mut acks = Vec::with_capacity(subscribers.len());
    for subscriber in subscribers {
        let copy = fire.for_subscriber(subscriber, size);
        match ctx.topology.fires.emit(&copy) {
            Ok(ack) => acks.push(ack),
            Err(e) => {
                retry_later(&e);
                return retry_soon(delivery).await;
            }
        }
    }
    for ack in acks {
        if let Err(e) = ack.await {
            retry_later(&e);
            return retry_soon(delivery).await;
        }
    }
    delivery.done().await;
}
