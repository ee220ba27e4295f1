//! One HTTP call and what its answer means.

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, SpanKind, Status};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ontime_core::fire::Fire;
use ontime_core::retry::{AttemptClass, parse_retry_after};
use ontime_core::target::{AnswerUse, HttpTarget, NatsTarget};
use ontime_core::timer::Run;
use ontime_core::trust::signing::{self, SigningSecret};

/// How much of an answer's body is kept in the attempt's log entry.
const RESPONSE_EXCERPT: usize = 1024;

/// How much of an answer's body is read for the callback contract.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What one call came to.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    pub status_code: Option<u16>,
    pub class: AttemptClass,
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
    /// The callback asked for another run at this instant (`{"ok": false, "nextExecuteAt"}`).
    pub reschedule_at: Option<DateTime<Utc>>,
    /// The callback asked the timer to stop (`{"code": 400}`), with its message.
    pub stop: Option<String>,
    pub latency: Duration,
    /// A command's run: how it ended and what it wrote.
    pub run: Option<Run>,
    /// The start of the answer's body.
    pub response: Option<String>,
}

/// What a call carries beyond its target's own fields.
#[derive(Default)]
pub struct Extra {
    /// Opened secret headers and the prerequisites' headers, sent after the target's own.
    pub headers: Vec<(String, String)>,
    /// The secrets that sign the call (`webhook-signature`, one signature each).
    pub signing: Vec<SigningSecret>,
}

/// An attempt not made: `class` says whether another may be.
pub fn not_made(class: AttemptClass, error: String) -> CallResult {
    CallResult {
        status_code: None,
        class,
        error: Some(error),
        retry_after: None,
        reschedule_at: None,
        stop: None,
        latency: Duration::ZERO,
        run: None,
        response: None,
    }
}

/// Makes attempt `attempt` of `fire` to `target`.
pub async fn make(
    http: &reqwest::Client,
    target: &HttpTarget,
    fire: &Fire,
    attempt: u32,
    started_at: DateTime<Utc>,
    extra: &Extra,
) -> CallResult {
    let method =
        reqwest::Method::from_bytes(target.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let delivery_id = fire.delivery_id();
    let timestamp = started_at.timestamp();
    let mut request = http
        .request(method, &target.url)
        .timeout(target.timeout())
        .header("webhook-id", &delivery_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("ontime-attempt", attempt.to_string());
    // The call belongs to its timer's trace: a span of its own within it (exported when
    // traces are), named in the header unless the target sets the header itself.
    let (mut span, trace) = ontime_core::trace::span(
        opentelemetry::global::tracer("ontime-worker"),
        format!("{} {}", target.method, host_of(&target.url)),
        SpanKind::Client,
        fire.trace,
        rand::random(),
    );
    span.set_attribute(KeyValue::new("ontime.delivery_id", delivery_id.clone()));
    span.set_attribute(KeyValue::new("ontime.attempt", i64::from(attempt)));
    let own_trace = target
        .headers
        .keys()
        .any(|name| name.eq_ignore_ascii_case("traceparent"));
    if let Some(trace) = trace.filter(|_| !own_trace && fire.trace.is_some()) {
        request = request.header("traceparent", trace.to_string());
    }
    for (name, value) in target
        .headers
        .iter()
        .chain(extra.headers.iter().map(|(n, v)| (n, v)))
    {
        request = request.header(name, value);
    }
    let body = target.body_bytes();
    let signed = body.as_ref().map_or(&[][..], |(bytes, _)| bytes.as_slice());
    if let Some(signature) = signing::sign(&extra.signing, &delivery_id, timestamp, signed) {
        request = request.header("webhook-signature", signature);
    }
    if let Some((body, content_type)) = body {
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request = request.body(body);
    }
    let clock = Instant::now();
    let response = request.send().await;
    let mut result = not_made(AttemptClass::Retryable, String::new());
    result.error = None;
    match response {
        Err(e) => match crate::guard::refusal_of(&e) {
            // The same address is refused every time: no retry can help.
            Some(refusal) => {
                result.class = AttemptClass::Final;
                result.error = Some(format!("refused by the target guard: {refusal}"));
            }
            None => result.error = Some(describe(&e, target.timeout())),
        },
        Ok(mut response) => {
            let status = response.status().as_u16();
            result.status_code = Some(status);
            result.class = AttemptClass::of_status(status);
            result.retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            let mut body = Vec::new();
            while body.len() < MAX_ANSWER_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            if !body.is_empty() {
                let excerpt = &body[..body.len().min(RESPONSE_EXCERPT)];
                result.response = Some(String::from_utf8_lossy(excerpt).into_owned());
            }
            if result.class != AttemptClass::Success {
                result.error = Some(format!("HTTP {status}"));
            } else if target.answer == AnswerUse::Steer {
                match callback_verdict(&body) {
                    Verdict::Done => {}
                    Verdict::Reschedule(at) => result.reschedule_at = Some(at),
                    Verdict::Stop(reason) => result.stop = Some(reason),
                    Verdict::Retry => {
                        result.class = AttemptClass::Retryable;
                        result.error = Some("the callback answered ok: false".into());
                    }
                }
            }
        }
    }
    result.latency = clock.elapsed();
    if let Some(status) = result.status_code {
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
    }
    if let Some(error) = &result.error {
        span.set_status(Status::error(error.clone()));
    }
    span.end();
    result
}

/// The host of a URL, for a span's name (never its path or query, which may carry data).
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// How long a publish to a NATS subject may take, its stream's acknowledgement included.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes attempt `attempt` of `fire` on `target`'s subject with the delivery's headers,
/// de-duplicated by its delivery id where a stream captures the subject (see
/// [`ontime_nats::targets::Targets::publish`] for what counts as delivered).
pub async fn publish(
    targets: &ontime_nats::targets::Targets,
    target: &NatsTarget,
    fire: &Fire,
    attempt: u32,
    started_at: DateTime<Utc>,
) -> CallResult {
    let clock = Instant::now();
    let mut headers = async_nats::HeaderMap::new();
    for (name, value) in &target.headers {
        headers.insert(name.as_str(), value.as_str());
    }
    let delivery_id = fire.delivery_id();
    headers.insert("webhook-id", delivery_id.as_str());
    headers.insert(
        "webhook-timestamp",
        started_at.timestamp().to_string().as_str(),
    );
    headers.insert("ontime-attempt", attempt.to_string().as_str());
    let payload = match target.body_bytes() {
        Some((body, content_type)) => {
            if let Some(content_type) = content_type {
                headers.insert("Content-Type", content_type.as_str());
            }
            bytes::Bytes::from(body)
        }
        None => bytes::Bytes::new(),
    };
    let outcome = targets
        .publish(
            &target.subject,
            headers,
            payload,
            &delivery_id,
            PUBLISH_TIMEOUT,
        )
        .await;
    CallResult {
        status_code: None,
        class: if outcome.is_ok() {
            AttemptClass::Success
        } else {
            AttemptClass::Retryable
        },
        error: outcome.err(),
        retry_after: None,
        reschedule_at: None,
        stop: None,
        latency: clock.elapsed(),
        run: None,
        response: None,
    }
}

/// What a 2xx answer's body asks for: the durable-timer contract (`ok`, `nextExecuteAt`) and
/// CronHubot's (`code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Success: `{"ok": true}`, `{"code": 200}`, or any body that is neither contract.
    Done,
    /// `{"code": 400, "message": …}`: stop the timer; no more occurrences.
    Stop(String),
    /// `{"ok": false, "nextExecuteAt": …}`: run again at that instant.
    Reschedule(DateTime<Utc>),
    /// `{"ok": false}` alone: a failure, retried like a 5xx.
    Retry,
}

/// Reads a 2xx body as the durable-timer contract.
pub fn callback_verdict(body: &[u8]) -> Verdict {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Verdict::Done;
    };
    if doc.get("code").and_then(serde_json::Value::as_u64) == Some(400) {
        let message = doc.get("message").and_then(|m| m.as_str()).unwrap_or("");
        return Verdict::Stop(format!("the callback answered code 400: {message}"));
    }
    if doc.get("ok").and_then(serde_json::Value::as_bool) != Some(false) {
        return Verdict::Done;
    }
    match doc
        .get("nextExecuteAt")
        .and_then(|v| v.as_str())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|at| at.with_timezone(&Utc))
        .and_then(ontime_core::limits::bounded)
    {
        Some(at) => Verdict::Reschedule(at),
        None => Verdict::Retry,
    }
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!(
            "timeout after {}",
            ontime_core::duration::format_duration(timeout)
        )
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        format!("request failed: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_contract() {
        assert_eq!(callback_verdict(br#"{"ok": true}"#), Verdict::Done);
        assert_eq!(
            callback_verdict(br#"{"code": 200, "message": "OK"}"#),
            Verdict::Done
        );
        assert_eq!(
            callback_verdict(br#"{"code": 400, "message": "done"}"#),
            Verdict::Stop("the callback answered code 400: done".into())
        );
        assert_eq!(callback_verdict(b"plain text"), Verdict::Done);
        assert_eq!(callback_verdict(br#"{"ok": false}"#), Verdict::Retry);
        assert_eq!(
            callback_verdict(br#"{"ok": false, "nextExecuteAt": "2026-12-01T10:00:00Z"}"#),
            Verdict::Reschedule("2026-12-01T10:00:00Z".parse().unwrap())
        );
        assert_eq!(
            callback_verdict(br#"{"ok": false, "nextExecuteAt": "soon"}"#),
            Verdict::Retry
        );
        // Not RFC 3339, or past 9999-12-31: not an instant ontime can keep.
        assert_eq!(
            callback_verdict(br#"{"ok": false, "nextExecuteAt": "+116106-05-15T00:00:00Z"}"#),
            Verdict::Retry
        );
    }
}
