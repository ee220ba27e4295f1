//! The Durable Timer API in native terms, as pure functions: a request becomes a native
//! [`TimerSpec`], a native timer becomes the API's [`Timer`]. No I/O and no clock: "now" is
//! an argument.
//!
//! A timer is a one-time native timer: `executeAt` is `schedule.at`; `callbackUrl` an HTTP
//! POST target whose JSON body is a [`CallbackBody`] (which carries the `payload`);
//! `callbackTimeoutSeconds` the target's timeout; `retryPolicy` the native retry policy.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use ontime_core::retry::RetryPolicy;
use ontime_core::schedule::Schedule;
use ontime_core::target::Target;
use ontime_core::timer::{Attempt, AttemptOutcome, TimerRecord, TimerSpec, TimerView};
use ontime_core::{HumanDuration, Limits, Namespace, TimerId, TimerKey};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::error::FacadeError;
use super::model::{
    CallbackBody, CreateTimerRequest, RetryPolicyIn, RetryPolicyOut, Timer, UpdateTimerRequest,
};

/// The callback's timeout when the request gives none (the original's default).
pub const DEFAULT_CALLBACK_TIMEOUT_SECS: i64 = 30;
/// The longest callback timeout, ontime's own bound.
pub const MAX_CALLBACK_TIMEOUT_SECS: i64 = 900;

/// Decodes a request body; a refusal names the field at fault.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FacadeError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let decoded = serde_path_to_error::deserialize::<_, T>(&mut de);
    if decoded.is_ok()
        && let Err(e) = de.end()
    {
        return Err(FacadeError::invalid(
            None,
            format!("the body is not valid JSON: {e}"),
        ));
    }
    decoded.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return FacadeError::invalid(None, format!("the body is not valid JSON: {inner}"));
        }
        let message = inner.to_string();
        // A missing field is reported at its object: name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name);
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => Some(name.to_owned()),
            (path, Some(name)) => Some(format!("{path}.{name}")),
            (".", None) => None,
            (path, None) => Some(path.to_owned()),
        };
        let message = match &field {
            Some(field) => format!("{field}: {message}"),
            None => message,
        };
        FacadeError::invalid(field.as_deref(), message)
    })
}

/// The native key of a timer; `id_field` is what the request calls its id (`id` to create,
/// `timerId` otherwise).
pub fn key(namespace: &str, id: &str, id_field: &str) -> Result<TimerKey, FacadeError> {
    let namespace = Namespace::parse(namespace).map_err(|e| {
        FacadeError::invalid(Some("namespace"), format!("namespace: {}", e.message))
    })?;
    let id = TimerId::parse(id)
        .map_err(|e| FacadeError::invalid(Some(id_field), format!("{id_field}: {}", e.message)))?;
    Ok(TimerKey::new(namespace, id))
}

/// A create request as the native key and definition.
pub fn create(
    request: &CreateTimerRequest,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<(TimerKey, TimerSpec), FacadeError> {
    let key = key(&request.namespace, &request.id, "id")?;
    future(request.execute_at, now)?;
    let retry = request
        .retry_policy
        .as_ref()
        .map(native_retry)
        .transpose()?;
    let spec = spec(
        &key,
        Definition {
            execute_at: request.execute_at,
            callback_url: &request.callback_url,
            payload: request.payload.as_ref(),
            timeout_secs: timeout_secs(request.callback_timeout_seconds)?,
            retry,
        },
        limits,
    )?;
    Ok((key, spec))
}

/// The definition an update gives `current` (a timer the API made: one-time, pending): the
/// fields the request carries replace the timer's, the others are kept. A timer whose
/// callback moved it (`nextExecuteAt`) keeps that instant unless the request gives another.
pub fn update(
    key: &TimerKey,
    current: &TimerRecord,
    request: &UpdateTimerRequest,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<TimerSpec, FacadeError> {
    let execute_at = match request.execute_at {
        Some(at) => future(at, now).map(|()| at)?,
        None => current
            .next_fire_at
            .or(current.spec.schedule.at)
            .ok_or_else(|| not_ours(key))?,
    };
    let http = current
        .spec
        .target
        .http
        .as_ref()
        .ok_or_else(|| not_ours(key))?;
    let payload = match &request.payload {
        Some(payload) => Some(payload.clone()),
        None => payload_of(&current.spec.target),
    };
    let timeout_secs = match request.callback_timeout_seconds {
        Some(secs) => timeout_secs(Some(secs))?,
        None => whole_seconds(http.timeout().as_millis()),
    };
    let retry = match &request.retry_policy {
        Some(policy) => native_retry(policy)?,
        None => serde_json::to_value(current.spec.retry)
            .map_err(|_| FacadeError::internal("An unexpected error occurred"))?,
    };
    spec(
        key,
        Definition {
            execute_at,
            callback_url: request.callback_url.as_deref().unwrap_or(&http.url),
            payload: payload.as_ref(),
            timeout_secs,
            retry: Some(retry),
        },
        limits,
    )
}

/// A timer that is not one of the API's (a native one with a recurring schedule).
pub fn not_ours(key: &TimerKey) -> FacadeError {
    FacadeError::invalid(
        None,
        format!(
            "Timer with ID '{}' is not a one-time timer; change it through /v1",
            key.id
        ),
    )
}

/// Everything a native definition is made of.
struct Definition<'a> {
    execute_at: DateTime<Utc>,
    callback_url: &'a str,
    payload: Option<&'a Map<String, Value>>,
    timeout_secs: i64,
    /// The native retry policy's JSON; `None` for ontime's defaults.
    retry: Option<Value>,
}

fn spec(key: &TimerKey, d: Definition<'_>, limits: &Limits) -> Result<TimerSpec, FacadeError> {
    let body = CallbackBody {
        namespace: key.namespace.to_string(),
        id: key.id.to_string(),
        execute_at: d.execute_at,
        payload: d.payload.cloned(),
    };
    let mut doc = json!({
        "schedule": {"at": d.execute_at},
        "target": {"http": {
            "url": d.callback_url,
            "method": "POST",
            "body": body,
            "timeout": format!("{}s", d.timeout_secs),
        }},
    });
    if let Some(retry) = d.retry {
        doc["retry"] = retry;
    }
    // Built as JSON and decoded, as a client's definition is: a field the native model adds
    // later with a default needs nothing here.
    let mut spec: TimerSpec = serde_json::from_value(doc).map_err(|e| {
        tracing::error!(error = %e, "a durable-timer definition does not decode");
        FacadeError::internal("An unexpected error occurred")
    })?;
    spec.validate_with(limits)
        .map_err(|e| FacadeError::from_native(e, key.id.as_str()))?;
    Ok(spec)
}

fn future(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), FacadeError> {
    if at < now {
        return Err(FacadeError::invalid(
            Some("executeAt"),
            "executeAt must be a future timestamp",
        ));
    }
    Ok(())
}

fn timeout_secs(given: Option<i64>) -> Result<i64, FacadeError> {
    let secs = given.unwrap_or(DEFAULT_CALLBACK_TIMEOUT_SECS);
    if !(1..=MAX_CALLBACK_TIMEOUT_SECS).contains(&secs) {
        return Err(FacadeError::invalid(
            Some("callbackTimeoutSeconds"),
            format!("callbackTimeoutSeconds must be between 1 and {MAX_CALLBACK_TIMEOUT_SECS}"),
        ));
    }
    Ok(secs)
}

fn whole_seconds(millis: u128) -> i64 {
    i64::try_from(millis.div_ceil(1000)).unwrap_or(MAX_CALLBACK_TIMEOUT_SECS)
}

/// The native retry policy (as JSON) of a policy the API was given. Absent fields take
/// ontime's defaults, except that the longest wait is never below the first.
pub fn native_retry(policy: &RetryPolicyIn) -> Result<Value, FacadeError> {
    let mut retry = Map::new();
    let attempts = match (policy.max_attempts, policy.max_retries) {
        (Some(attempts), Some(retries)) if attempts != retries.saturating_add(1) => {
            return Err(FacadeError::invalid(
                Some("retryPolicy.maxRetries"),
                "maxRetries counts the retries after the first attempt (maxAttempts − 1); \
                 give one of them, or both in agreement",
            ));
        }
        (Some(attempts), _) => Some(("retryPolicy.maxAttempts", attempts)),
        (None, Some(retries)) => Some(("retryPolicy.maxRetries", retries.saturating_add(1))),
        (None, None) => None,
    };
    if let Some((field, attempts)) = attempts {
        if !(1..=100).contains(&attempts) {
            return Err(FacadeError::invalid(
                Some(field),
                "maxAttempts must be between 1 and 100 (maxRetries between 0 and 99)",
            ));
        }
        retry.insert("max_attempts".into(), json!(attempts));
    }
    let durations = [
        (
            "initialInterval",
            &policy.initial_interval,
            "initial_interval",
        ),
        ("maxInterval", &policy.max_interval, "max_interval"),
        (
            "maxAttemptsDuration",
            &policy.max_attempts_duration,
            "max_duration",
        ),
    ];
    for (name, value, native) in durations {
        if let Some(value) = value {
            HumanDuration::from_str(value).map_err(|e| {
                FacadeError::invalid(
                    Some(&format!("retryPolicy.{name}")),
                    format!("retryPolicy.{name}: {e}"),
                )
            })?;
            retry.insert(native.into(), json!(value));
        }
    }
    if let Some(multiplier) = policy.backoff_multiplier {
        if !(1.0..=10.0).contains(&multiplier) {
            return Err(FacadeError::invalid(
                Some("retryPolicy.backoffMultiplier"),
                "backoffMultiplier must be between 1 and 10",
            ));
        }
        retry.insert("multiplier".into(), json!(multiplier));
    }
    if let (Some(initial), None) = (&policy.initial_interval, &policy.max_interval)
        && HumanDuration::from_str(initial).is_ok_and(|i| i > RetryPolicy::default().max_interval)
    {
        retry.insert("max_interval".into(), json!(initial));
    }
    Ok(Value::Object(retry))
}

/// The payload a timer's callback carries.
fn payload_of(target: &Target) -> Option<Map<String, Value>> {
    match target.http.as_ref()?.body.as_ref()?.get("payload")? {
        Value::Object(payload) => Some(payload.clone()),
        _ => None,
    }
}

/// What the API shows of a timer, from the native state (or, for a change not applied yet,
/// from its definition).
pub struct Snapshot<'a> {
    pub namespace: &'a str,
    pub id: &'a str,
    pub schedule: &'a Schedule,
    pub target: &'a Target,
    pub retry: &'a RetryPolicy,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_result: Option<&'a Attempt>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> Snapshot<'a> {
    /// A timer as `spec` defines it, before the scheduler applied it: due at its `at`, no
    /// call made yet.
    pub fn defined(
        key: &'a TimerKey,
        spec: &'a TimerSpec,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            namespace: key.namespace.as_str(),
            id: key.id.as_str(),
            schedule: &spec.schedule,
            target: &spec.target,
            retry: &spec.retry,
            next_fire_at: spec.schedule.at,
            last_result: None,
            created_at,
            updated_at,
        }
    }
}

impl<'a> From<&'a TimerView> for Snapshot<'a> {
    fn from(view: &'a TimerView) -> Self {
        Self {
            namespace: &view.namespace,
            id: &view.id,
            schedule: &view.schedule,
            target: &view.target,
            retry: &view.retry,
            next_fire_at: view.next_fire_at,
            last_result: view.last_result.as_ref(),
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

/// The API's view of a timer. `executeAt` is when it is next due (a callback's
/// `nextExecuteAt` included), else when it last was; `executedAt` when its last call started.
pub fn timer(s: Snapshot<'_>) -> Timer {
    let last = s.last_result;
    let execute_at = s
        .next_fire_at
        .or_else(|| last.map(|a| a.occurrence_due_at.unwrap_or(a.due_at)))
        .or(s.schedule.at)
        .unwrap_or(s.created_at);
    let executed_at = last
        .filter(|a| {
            matches!(
                a.outcome,
                AttemptOutcome::Succeeded
                    | AttemptOutcome::Failed
                    | AttemptOutcome::Retrying
                    | AttemptOutcome::Rescheduled
                    | AttemptOutcome::Stopped
            )
        })
        .map(|a| a.started_at);
    // A timer the API made calls an URL; a native one may not (its callback then reads
    // empty).
    let (callback_url, timeout) = s.target.http.as_ref().map_or_else(
        || (String::new(), ontime_core::target::DEFAULT_TIMEOUT),
        |http| (http.url.clone(), http.timeout()),
    );
    Timer {
        id: s.id.to_owned(),
        namespace: s.namespace.to_owned(),
        execute_at,
        callback_url,
        payload: payload_of(s.target).map(Value::Object),
        retry_policy: RetryPolicyOut {
            max_attempts: s.retry.max_attempts,
            initial_interval: s.retry.initial_interval.to_string(),
            backoff_multiplier: s.retry.multiplier,
            max_interval: s.retry.max_interval.to_string(),
            max_attempts_duration: s.retry.max_duration.map(|d| d.to_string()),
        },
        callback_timeout_seconds: u64::try_from(whole_seconds(timeout.as_millis())).unwrap_or(0),
        created_at: s.created_at,
        updated_at: s.updated_at,
        executed_at,
    }
}

#[cfg(test)]
mod tests;
