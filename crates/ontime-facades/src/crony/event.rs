//! A Crony event in native terms, as pure functions: a request becomes a [`Definition`], a
//! definition a native [`TimerSpec`], a native timer an [`Event`]. No I/O and no clock.
//!
//! - `url` is an HTTP GET target, its answer's status alone counting (`answer: status`:
//!   Crony never read its callbacks' bodies);
//! - `expression` becomes the native schedule (see [`super::expression`]), and is kept as
//!   given in the metadata entry `crony.expression`;
//! - `max_retries` (or the code's `retries`), 0 to 10, is the number of retries after a
//!   failed call: `max_attempts = max_retries + 1`;
//! - `retry_timeout`, in seconds, is both the wait between retries and each call's timeout;
//!   it is kept as given in `crony.retry_timeout`, and a value of 10⁶ or more is read as
//!   nanoseconds (a Go `time.Duration`, which is what the original's code wrote);
//! - `status` `inactive` is a paused timer, `active` a scheduled one.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use ontime_core::timer::{TimerSpec, TimerStatus};
use ontime_core::{Limits, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::expression;
use crate::cron_service::{Change, Service, Stored, reason};

/// Metadata keys of the event's fields that the native timer has no place for.
pub const EXPRESSION_KEY: &str = "crony.expression";
pub const RETRY_TIMEOUT_KEY: &str = "crony.retry_timeout";

/// Retries when none are given (the original's default).
pub const DEFAULT_RETRIES: u32 = 1;
/// `retry_timeout` when none is given: ontime's default call timeout, in seconds.
pub const DEFAULT_RETRY_TIMEOUT: i64 = 10;
/// The longest `retry_timeout`, in seconds: ontime's longest call timeout.
pub const MAX_RETRY_TIMEOUT_SECS: i64 = 900;
/// From here on a `retry_timeout` is a number of nanoseconds.
const NANOS_FROM: i64 = 1_000_000;
/// The longest expression kept (a metadata value's bound).
const MAX_EXPRESSION_CHARS: usize = ontime_core::metadata::MAX_VALUE_CHARS;

/// An event's fields as a client sends them; unknown fields are ignored, as the original's
/// decoder did (an `id`, `created_at`… echoed back from a read are harmless).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventIn {
    pub url: Option<String>,
    pub expression: Option<String>,
    pub status: Option<String>,
    pub max_retries: Option<i64>,
    /// The original code's name for `max_retries`.
    pub retries: Option<i64>,
    pub retry_timeout: Option<i64>,
}

/// An event as Crony answers it: the document's fields, and `retries` beside `max_retries`
/// for clients written against the code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: u64,
    pub url: String,
    pub expression: String,
    pub status: &'static str,
    pub max_retries: u32,
    pub retries: u32,
    pub retry_timeout: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A complete, checked event.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub url: String,
    pub expression: String,
    pub active: bool,
    pub retries: u32,
    /// As given (seconds, or nanoseconds from 10⁶ on).
    pub retry_timeout: i64,
}

/// The event `input` defines (from `current` for a merge), or the reason it is refused (422).
pub fn definition(
    input: &EventIn,
    current: Option<&Definition>,
    change: Change,
) -> Result<Definition, String> {
    let base = match (change, current) {
        (Change::Merge, Some(current)) => current.clone(),
        _ => Definition {
            url: String::new(),
            expression: String::new(),
            active: true,
            retries: DEFAULT_RETRIES,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
        },
    };
    let url = input.url.clone().unwrap_or(base.url);
    if url.trim().is_empty() {
        return Err("field url is mandatory".into());
    }
    let expression = input.expression.clone().unwrap_or(base.expression);
    if expression.trim().is_empty() {
        return Err("field expression is mandatory".into());
    }
    if expression.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(format!(
            "the expression must be crontab format: longer than {MAX_EXPRESSION_CHARS} characters"
        ));
    }
    let active = match input.status.as_deref() {
        None => base.active,
        Some("active") => true,
        // "incative" is how the document spells it.
        Some("inactive" | "incative") => false,
        Some(_) => return Err("field status must be active or inactive".into()),
    };
    let retries = match (input.max_retries, input.retries) {
        (Some(a), Some(b)) if a != b => {
            return Err("fields max_retries and retries disagree; give one of them".into());
        }
        (Some(n), _) => checked_retries("max_retries", n)?,
        (None, Some(n)) => checked_retries("retries", n)?,
        (None, None) => base.retries,
    };
    let retry_timeout = match input.retry_timeout {
        // The original's decoder kept its default for a zero.
        Some(0) => base.retry_timeout,
        Some(given) => {
            retry_timeout_secs(given)?;
            given
        }
        None => base.retry_timeout,
    };
    Ok(Definition {
        url,
        expression,
        active,
        retries,
        retry_timeout,
    })
}

fn checked_retries(field: &str, n: i64) -> Result<u32, String> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= 10)
        .ok_or_else(|| format!("field {field} must be between 0 and 10"))
}

/// Seconds of a `retry_timeout` as given: seconds up to 900, nanoseconds from 10⁶ (rounded up
/// to a second).
pub fn retry_timeout_secs(given: i64) -> Result<i64, String> {
    let secs = if given >= NANOS_FROM {
        (given + 999_999_999) / 1_000_000_000
    } else {
        given
    };
    if (1..=MAX_RETRY_TIMEOUT_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "field retry_timeout must be from 1 to {MAX_RETRY_TIMEOUT_SECS} seconds (or \
             nanoseconds, from {NANOS_FROM})"
        ))
    }
}

/// The native definition of event `d`, checked under `limits`.
pub fn spec(service: &Service, d: &Definition, limits: &Limits) -> Result<TimerSpec, String> {
    let schedule = expression::schedule(&d.expression, service.timezone.name())
        .map_err(|why| format!("the expression must be crontab format: {why}"))?;
    let secs = retry_timeout_secs(d.retry_timeout)?;
    let mut metadata = service.metadata();
    metadata.insert(EXPRESSION_KEY.into(), d.expression.clone());
    metadata.insert(RETRY_TIMEOUT_KEY.into(), d.retry_timeout.to_string());
    let doc = json!({
        "schedule": schedule,
        "target": {"http": {
            "url": d.url,
            "method": "GET",
            "timeout": format!("{secs}s"),
            "answer": "status",
        }},
        "retry": {
            "max_attempts": d.retries + 1,
            "initial_interval": format!("{secs}s"),
            "multiplier": 1.0,
            "max_interval": format!("{secs}s"),
        },
        "metadata": metadata,
    });
    let mut spec: TimerSpec = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    spec.validate_with(limits).map_err(|e| refusal(&e))?;
    Ok(spec)
}

/// A native refusal in Crony's words.
fn refusal(error: &ValidationError) -> String {
    let field = error.field.as_deref().unwrap_or("");
    if field.starts_with("schedule") {
        return format!("the expression must be crontab format: {}", error.message);
    }
    reason(error, |path| match path {
        "target.http.url" => Some("url"),
        _ => None,
    })
}

/// The event a native timer is, if it is one of Crony's.
pub fn stored(s: &Stored<'_>) -> Option<Definition> {
    Some(Definition {
        url: s.target.http.as_ref()?.url.clone(),
        expression: s.metadata.get(EXPRESSION_KEY)?.clone(),
        active: s.status != TimerStatus::Paused && !s.status.is_final(),
        retries: s.retry.max_attempts.saturating_sub(1),
        retry_timeout: s
            .metadata
            .get(RETRY_TIMEOUT_KEY)
            .and_then(|t| t.parse().ok())
            .unwrap_or(DEFAULT_RETRY_TIMEOUT),
    })
}

/// Event `id` as the API shows it.
pub fn event(
    id: u64,
    d: &Definition,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    tz: Tz,
) -> Event {
    Event {
        id,
        url: d.url.clone(),
        expression: d.expression.clone(),
        status: if d.active { "active" } else { "inactive" },
        max_retries: d.retries,
        retries: d.retries,
        retry_timeout: d.retry_timeout,
        created_at: timestamp(created_at, tz),
        updated_at: timestamp(updated_at, tz),
    }
}

/// RFC 3339 with nanoseconds (trailing zeros dropped) on `tz`'s offset, as Go writes a time.
pub fn timestamp(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests;
