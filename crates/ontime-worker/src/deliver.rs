//! One fire message: check the timer is still what fired, call, report, settle.

use std::borrow::Cow;
use std::time::Duration;

use async_nats::jetstream::Message;
use chrono::{DateTime, Utc};
use ontime_core::fire::Fire;
use ontime_core::retry::{AttemptClass, RetryDecision};
use ontime_core::state;
use ontime_core::target::{HttpTarget, Target};
use ontime_core::timer::{Attempt, AttemptOutcome, TimerStatus};
use ontime_core::timing;

use crate::Ctx;
use crate::call::{self, CallResult};
use crate::fanout::{fan_out, subscriber_target};
use crate::report::{report, report_and_settle, retry_soon};

/// How the fire message is settled once the attempt is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    Ack,
    /// Keep it and redeliver after this wait (short retries).
    NakAfter(Duration),
}

/// The longest a fire that arrived early is held: one from a scheduler whose clock runs ahead
/// of this worker's is called after at most this, not held until its own idea of the time.
const MAX_HOLD: Duration = Duration::from_secs(1);

/// How long to hold a fire due at `due_at` that arrived at `now`: until the due instant, at
/// most [`MAX_HOLD`]; zero when it is due or late.
pub fn early_by(due_at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (due_at - now).to_std().unwrap_or_default().min(MAX_HOLD)
}

/// Decides the outcome of an attempt: what to record, whether the scheduler must hold the
/// retry (`rearm`), and how to settle the message.
pub fn decide(
    result: &CallResult,
    decision: Option<RetryDecision>,
    now: DateTime<Utc>,
    nak_max: Duration,
) -> (AttemptOutcome, Option<DateTime<Utc>>, bool, Settle) {
    if let Some(at) = result.reschedule_at {
        return (AttemptOutcome::Rescheduled, Some(at), false, Settle::Ack);
    }
    if result.stop.is_some() {
        return (AttemptOutcome::Stopped, None, false, Settle::Ack);
    }
    if result.class == AttemptClass::Success {
        return (AttemptOutcome::Succeeded, None, false, Settle::Ack);
    }
    match decision {
        Some(RetryDecision::RetryAfter(wait)) => {
            let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
            if wait <= nak_max {
                (
                    AttemptOutcome::Retrying,
                    Some(at),
                    false,
                    Settle::NakAfter(wait),
                )
            } else {
                (AttemptOutcome::Retrying, Some(at), true, Settle::Ack)
            }
        }
        _ => (AttemptOutcome::Failed, None, false, Settle::Ack),
    }
}

/// The target as it is called: a POST, PUT or PATCH without a body says `Content-Length: 0`.
/// Without a length, such a request has a body of unknown length, and front ends (nginx, load
/// balancers) answer 411 Length Required, which is final: the timer would fail for good.
pub fn as_called(target: &HttpTarget) -> Cow<'_, HttpTarget> {
    let takes_a_body = matches!(target.method.as_str(), "POST" | "PUT" | "PATCH");
    if !takes_a_body || target.body_bytes().is_some() {
        return Cow::Borrowed(target);
    }
    // `content-length` is reserved (a target cannot set it), so this is the only one.
    let mut target = target.clone();
    target
        .headers
        .insert("content-length".to_owned(), "0".to_owned());
    Cow::Owned(target)
}

#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn handle(ctx: &Ctx, message: Message) {
    let delivered = message.info().map(|i| i.delivered).unwrap_or(1).max(1) as u32;
    let (message, delivery) = ontime_nats::settle::split(message);
    let fire: Fire = match serde_json::from_slice(&message.payload) {
        Ok(fire) => fire,
        Err(e) => {
            tracing::error!(error = %e, "an unreadable fire message; dropped");
            delivery.never().await;
            return;
        }
    };
    let attempt_no = fire.attempt + delivered - 1;
    let key = fire.key();
    // Schedulers emit a fire a little before its due instant (`fire_ahead`). The record is
    // read as soon as the fire arrives, so that the read is done by the instant even when it
    // waits behind the bucket's writes (under `sync_interval: always` each waits for an
    // fsync). At the instant, the timer's mark tells whether a command acknowledged since
    // then replaced or cancelled this definition; the marks bucket has no such queue.
    let arrived = Utc::now();
    let read = ctx.topology.timers.get_live(&key).await;
    let read_at = Utc::now();
    tokio::time::sleep(early_by(fire.due_at, read_at)).await;
    let woke = Utc::now();
    let mark = ctx.topology.marks.get(&key).await;
    tracing::debug!(
        target: timing::TARGET,
        arrived_us = timing::from_due_us(fire.due_at, arrived),
        read_us = timing::from_due_us(fire.due_at, read_at),
        woke_us = timing::from_due_us(fire.due_at, woke),
        checked_us = timing::from_due_us(fire.due_at, Utc::now()),
        "call"
    );
    let (record, mark) = match (read, mark) {
        (Ok(record), Ok(mark)) => (record, mark),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "reading the timer failed; retrying");
            return retry_soon(delivery).await;
        }
    };
    let started_at = Utc::now();
    let mut attempt = Attempt {
        delivery_id: fire.delivery_id(),
        generation: fire.generation,
        occurrence: fire.occurrence,
        attempt: attempt_no,
        due_at: fire.due_at,
        occurrence_due_at: Some(fire.occurrence_due_at),
        started_at,
        latency_ms: 0,
        status_code: None,
        error: None,
        outcome: AttemptOutcome::Superseded,
        next_at: None,
        subscriber: fire.subscriber.clone(),
        subscribers: Vec::new(),
        fan_out: fire.fan_out,
        run: None,
        note: None,
        response: None,
    };
    // The record and the mark are the truth: a timer changed or deleted after this fire was
    // emitted is not called with its old definition.
    let superseded = mark.is_some_and(|mark| mark.supersedes(&fire));
    let live = record.filter(|(r, _)| {
        r.generation == fire.generation && r.status != TimerStatus::Cancelled && !superseded
    });
    let Some((record, _)) = live else {
        attempt.error =
            Some("the timer was changed, deleted, stopped or moved before the call".into());
        report(ctx, &key, attempt, false).await;
        delivery.done().await;
        return;
    };
    // A copy of a fire whose occurrence has ended (delivered again after its report, or
    // stored again by an arming that raced the call): settled, and not called again.
    if fire.has_ended(record.last_result.as_ref()) {
        metrics::counter!(crate::metrics::ENDED).increment(1);
        tracing::debug!(timer = %key, occurrence = fire.occurrence, "the occurrence has ended; not called again");
        delivery.done().await;
        return;
    }
    // max_lateness: a first attempt that would be this late is not made (retries are late
    // by design; max_duration bounds them).
    if attempt_no == 1
        && let Some(max) = record.spec.schedule.max_lateness
        && started_at - fire.occurrence_due_at > max.chrono()
    {
        attempt.outcome = AttemptOutcome::Expired;
        attempt.error = Some(format!(
            "not called: {} ms late, more than max_lateness {max}",
            (started_at - fire.occurrence_due_at).num_milliseconds()
        ));
        metrics::counter!(crate::metrics::ATTEMPTS, "outcome" => "expired", "status_class" => "none")
            .increment(1);
        return report_and_settle(ctx, &key, attempt, false, Settle::Ack, delivery).await;
    }
    // A topic's occurrence is handed to its subscribers, each delivered by a fire of its own;
    // a subscriber's delivery goes to its own target with the timer's body.
    let (target, policy) = match (&record.spec.target.topic, &fire.subscriber) {
        (Some(topic), None) => return fan_out(ctx, &fire, &key, topic, attempt, delivery).await,
        (Some(topic), Some(subscriber)) => {
            match subscriber_target(ctx, &key, topic, subscriber).await {
                Ok(Some((target, retry))) => {
                    (Cow::Owned(target), retry.unwrap_or(record.spec.retry))
                }
                Ok(None) => {
                    attempt.outcome = AttemptOutcome::Skipped;
                    attempt.error = Some("the subscriber was removed from the topic".into());
                    return report_and_settle(ctx, &key, attempt, false, Settle::Ack, delivery)
                        .await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the topic failed; retrying");
                    return retry_soon(delivery).await;
                }
            }
        }
        (None, _) => (Cow::Borrowed(&record.spec.target), record.spec.retry),
    };
    // An HTTP call waits for its turn under the flow limits of its namespace and host: it
    // starts, and its lateness counts, from then.
    let admitted = match &target.http {
        Some(http) => {
            let host = url::Url::parse(&http.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned));
            let admission = ctx
                .flow
                .admit(&fire.namespace, host.as_deref(), http.timeout());
            ontime_nats::pull::with_progress(&delivery, ctx.config.progress_interval, admission)
                .await
        }
        None => Default::default(),
    };
    if admitted.waited {
        attempt.started_at = Utc::now();
    }
    let started_at = attempt.started_at;
    if attempt_no == 1 {
        let late = (started_at - fire.occurrence_due_at)
            .to_std()
            .unwrap_or_default();
        metrics::histogram!(crate::metrics::LATENESS).record(late.as_secs_f64());
    }
    metrics::gauge!(crate::metrics::IN_FLIGHT).increment(1.0);
    let result = ontime_nats::pull::with_progress(
        &delivery,
        ctx.config.progress_interval,
        deliver(ctx, &target, &fire, attempt_no, started_at),
    )
    .await;
    metrics::gauge!(crate::metrics::IN_FLIGHT).decrement(1.0);
    ctx.flow.release(admitted).await;
    let now = Utc::now();
    let since_due = (now - fire.occurrence_due_at).to_std().unwrap_or_default();
    let decision = (result.class != AttemptClass::Success)
        .then(|| policy.decide(attempt_no, result.class, result.retry_after, since_due));
    // A command's retries all go back to the scheduler: a command fire delivered again is
    // then always one whose run was interrupted, and its entry can say so.
    let nak_max = if fire.command {
        Duration::ZERO
    } else {
        ctx.config.nak_max_delay
    };
    let (outcome, next_at, rearm, settle) = decide(&result, decision, now, nak_max);
    if fire.command && delivered > 1 {
        attempt.note = Some(format!(
            "run again: the run of attempt {} was interrupted (its command worker stopped before it ended)",
            attempt_no - 1
        ));
    }
    attempt.run = result.run.clone();
    attempt.response = result.response.clone();
    attempt.latency_ms = result.latency.as_millis() as u64;
    attempt.status_code = result.status_code;
    attempt.error = result.error.clone().or(result.stop.clone());
    attempt.outcome = outcome;
    attempt.next_at = next_at;
    // An answer that stops the timer or moves its next occurrence holds from now on: the
    // later occurrences already under way are voided before anyone hears of the answer.
    if let Some(mark) = state::answer_mark(&attempt, &ctx.config.limits)
        && let Err(e) = ctx.topology.marks.raise(&key, mark).await
    {
        tracing::warn!(error = %e, "raising the mark of a stopping answer failed; the scheduler raises it with the report");
    }
    metrics::counter!(
        crate::metrics::ATTEMPTS,
        "outcome" => outcome.name(),
        "status_class" => crate::metrics::status_class(result.status_code)
    )
    .increment(1);
    metrics::histogram!(crate::metrics::CALL_LATENCY).record(result.latency.as_secs_f64());
    dead_letter(ctx, &fire, &target, &attempt).await;
    report_and_settle(ctx, &key, attempt, rearm, settle, delivery).await;
}

/// A call that failed for good goes to its namespace's dead-letter list (a replay that
/// failed again replaces its letter); a replay that succeeded takes it off.
async fn dead_letter(ctx: &Ctx, fire: &Fire, target: &Target, attempt: &Attempt) {
    let letters = &ctx.topology.dead_letters;
    let written = match attempt.outcome {
        AttemptOutcome::Failed => {
            metrics::counter!(crate::metrics::DEAD_LETTERS).increment(1);
            letters.put(fire, target, attempt, Utc::now()).await
        }
        AttemptOutcome::Succeeded if fire.replay => {
            letters.discard(&fire.namespace, &fire.delivery_id()).await
        }
        _ => return,
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, delivery = %fire.delivery_id(), "the dead-letter list was not updated");
    }
}

/// Makes one attempt at `target`: an HTTP call, or a NATS message.
async fn deliver(
    ctx: &Ctx,
    target: &Target,
    fire: &Fire,
    attempt: u32,
    started_at: DateTime<Utc>,
) -> CallResult {
    match (&target.command, &ctx.config.commands) {
        (Some(command), Some(commands)) if commands.namespaces.contains(&fire.namespace) => {
            let stopped = stopped(ctx, fire);
            return crate::command::run(commands, command, stopped).await;
        }
        (Some(_), Some(_)) => {
            return refused(format!(
                "namespace {} is not enabled for commands on this worker",
                fire.namespace
            ));
        }
        (Some(_), None) => return refused("this worker does not run commands".into()),
        (None, Some(_)) => return refused("a command worker runs commands only".into()),
        (None, None) => {}
    }
    if let Some(nats) = &target.nats {
        // A timer must not speak for ontime: its own subjects carry commands and fires.
        let own = ctx.topology.names().prefix();
        if nats.subject == own || nats.subject.starts_with(&format!("{own}.")) {
            return refused(format!(
                "a timer may not publish on ontime's own subjects ({own}.>)"
            ));
        }
        return call::publish(&ctx.topology.targets, nats, fire, attempt, started_at).await;
    }
    match &target.http {
        Some(http) => {
            let ns = &fire.namespace;
            let target = as_called(http);
            ctx.trust
                .call(&ctx.http, ns, &target, fire, attempt, started_at)
                .await
        }
        None => refused("the timer has nothing to call".into()),
    }
}

/// Completes once the timer of `fire` has been deleted or redefined (its mark supersedes the
/// fire), checked every second while a command runs.
async fn stopped(ctx: &Ctx, fire: &Fire) {
    let key = fire.key();
    loop {
        tokio::time::sleep(STOP_CHECK).await;
        if let Ok(Some(mark)) = ctx.topology.marks.get(&key).await
            && mark.supersedes(fire)
        {
            return;
        }
    }
}

/// How often a running command's timer is checked for a stop.
const STOP_CHECK: Duration = Duration::from_secs(1);

/// An attempt not made, for good.
fn refused(error: String) -> CallResult {
    call::not_made(AttemptClass::Final, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves one HTTP request on 127.0.0.1 and answers 204; gives back the request's head.
    async fn one_request_sink() -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the connection closed before the end of the head");
                head.extend_from_slice(&buf[..n]);
            }
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&head).to_ascii_lowercase()
        });
        (url, served)
    }

    fn fire() -> Fire {
        Fire {
            namespace: ontime_core::Namespace::parse("ns").unwrap(),
            id: ontime_core::TimerId::parse("t").unwrap(),
            generation: 1,
            occurrence: 1,
            attempt: 1,
            due_at: Utc::now(),
            occurrence_due_at: Utc::now(),
            triggered: false,
            subscriber: None,
            fan_out: 0,
            command: false,
            replay: false,
            trace: None,
        }
    }

    /// What a call of `target` sends, as the sink reads it.
    async fn head_of_call(method: &str, body: Option<serde_json::Value>) -> String {
        let (url, served) = one_request_sink().await;
        let target: HttpTarget = serde_json::from_value(serde_json::json!({
            "url": url, "method": method, "body": body,
        }))
        .unwrap();
        let result = call::make(
            &reqwest::Client::new(),
            &as_called(&target),
            &fire(),
            1,
            Utc::now(),
            &call::Extra::default(),
        )
        .await;
        assert_eq!(result.status_code, Some(204), "{result:?}");
        served.await.unwrap()
    }

    #[tokio::test]
    async fn a_bodyless_post_put_or_patch_says_its_length_is_zero() {
        for method in ["POST", "PUT", "PATCH"] {
            let head = head_of_call(method, None).await;
            assert!(
                head.contains("\r\ncontent-length: 0\r\n"),
                "{method}: {head}"
            );
            assert!(!head.contains("transfer-encoding"), "{method}: {head}");
        }
        let head = head_of_call("POST", Some(serde_json::json!({"a": 1}))).await;
        assert!(head.contains("\r\ncontent-length: 7\r\n"), "{head}");
        assert_eq!(head.matches("content-length").count(), 1, "{head}");
        let head = head_of_call("GET", None).await;
        assert!(!head.contains("content-length"), "{head}");
    }

    fn result(class: AttemptClass) -> CallResult {
        CallResult {
            status_code: Some(500),
            class,
            error: None,
            retry_after: None,
            reschedule_at: None,
            stop: None,
            latency: Duration::ZERO,
            run: None,
            response: None,
        }
    }

    #[test]
    fn an_early_fire_is_held_until_its_due_instant_and_no_longer_than_the_cap() {
        let now = Utc::now();
        let ms = chrono::Duration::milliseconds;
        assert_eq!(early_by(now + ms(20), now), Duration::from_millis(20));
        assert_eq!(early_by(now, now), Duration::ZERO);
        assert_eq!(early_by(now - ms(5), now), Duration::ZERO, "late: at once");
        assert_eq!(early_by(now + ms(60_000), now), MAX_HOLD);
    }

    #[test]
    fn short_retries_stay_long_ones_go_to_the_scheduler() {
        let now = Utc::now();
        let five = Duration::from_secs(5);
        let short = decide(
            &result(AttemptClass::Retryable),
            Some(RetryDecision::RetryAfter(Duration::from_secs(2))),
            now,
            five,
        );
        assert_eq!(
            (short.0, short.2, short.3),
            (
                AttemptOutcome::Retrying,
                false,
                Settle::NakAfter(Duration::from_secs(2))
            )
        );
        let long = decide(
            &result(AttemptClass::Retryable),
            Some(RetryDecision::RetryAfter(Duration::from_secs(60))),
            now,
            five,
        );
        assert_eq!(
            (long.0, long.2, long.3),
            (AttemptOutcome::Retrying, true, Settle::Ack)
        );
        assert_eq!(long.1, Some(now + chrono::Duration::seconds(60)));
        let gave_up = decide(
            &result(AttemptClass::Final),
            Some(RetryDecision::GiveUp("4xx".into())),
            now,
            five,
        );
        assert_eq!(
            (gave_up.0, gave_up.3),
            (AttemptOutcome::Failed, Settle::Ack)
        );
        let ok = decide(&result(AttemptClass::Success), None, now, five);
        assert_eq!(ok.0, AttemptOutcome::Succeeded);
    }
}
