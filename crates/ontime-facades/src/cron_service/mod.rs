//! What Crony and CronHubot share. Both are small Go services of the same lineage: their
//! answers are Go's JSON encoding (`application/json; charset=utf-8`, a trailing newline),
//! their errors are `{"status": <label>, "message": <reason>}`, their ids are integers, and
//! each of their jobs is a cron timer. Here each job is a native timer in the facade's own
//! namespace, with an integer id drawn from a durable counter and the metadata entry
//! `facade: <name>` that marks it as the facade's.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ontime_core::id::{Namespace, TimerId};
use ontime_core::metadata::{Metadata, TimerFilter};
use ontime_core::retry::RetryPolicy;
use ontime_core::schedule::Schedule;
use ontime_core::target::Target;
use ontime_core::timer::{TimerRecord, TimerSpec, TimerStatus, TimerView};
use ontime_core::{ErrorCode, TimerKey, ValidationError};
use ontime_gateway::{ApiError, AppState};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::native;

mod routes;

pub use routes::{Change, Jobs, Words, routes};

/// The metadata key naming the facade a timer belongs to.
pub const FACADE_KEY: &str = "facade";

/// One of the two services: its namespace, its name, and where its ids start.
#[derive(Debug, Clone)]
pub struct Service {
    /// The facade's name, written as the `facade` metadata entry.
    pub name: &'static str,
    pub namespace: Namespace,
    /// The wall clock the service's cron expressions and times are read on.
    pub timezone: Tz,
    /// The first id the service gives.
    pub first_id: u64,
}

impl Service {
    /// The native key of job `id`; `None` for anything but a decimal integer (the
    /// originals routed only `^\d+$`).
    pub fn key(&self, id: &str) -> Option<TimerKey> {
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id: u64 = id.parse().ok()?;
        Some(self.key_of(id))
    }

    pub fn key_of(&self, id: u64) -> TimerKey {
        // A decimal integer is always a valid timer id.
        let id = TimerId::parse(&id.to_string()).unwrap_or_else(|_| unreachable!());
        TimerKey::new(self.namespace.clone(), id)
    }

    /// A fresh id: unique across every gateway, never given twice.
    pub async fn next_id(&self, state: &AppState) -> Result<u64, ApiError> {
        let counter = format!("{}.ids.{}", self.name, self.namespace);
        let n = state.topology.counters.next(&counter).await?;
        n.checked_add(self.first_id - 1)
            .ok_or_else(|| ApiError(ValidationError::new(ErrorCode::Internal, "ids exhausted")))
    }

    /// The metadata every job of the service starts from.
    pub fn metadata(&self) -> Metadata {
        Metadata::from([(FACADE_KEY.to_owned(), self.name.to_owned())])
    }

    /// The service's jobs (with `cancelled`, the deleted ones too), by id.
    pub async fn jobs(
        &self,
        state: &AppState,
        cancelled: bool,
    ) -> Result<Vec<(u64, TimerRecord, u64)>, ApiError> {
        let mut filter = TimerFilter::status(None);
        filter.metadata = self.metadata();
        let mut found = native::all(state, &self.namespace, &filter).await?;
        if cancelled {
            filter.status = Some(TimerStatus::Cancelled);
            found.extend(native::all(state, &self.namespace, &filter).await?);
        }
        let mut jobs: Vec<_> = found
            .into_iter()
            .filter_map(|(record, revision)| {
                let id = record.id.as_str().parse::<u64>().ok()?;
                Some((id, record, revision))
            })
            .collect();
        jobs.sort_by_key(|(id, _, _)| *id);
        Ok(jobs)
    }

    /// Job `key` as stored, if it is one of the service's; cancelled ones included.
    pub async fn job(
        &self,
        state: &AppState,
        key: &TimerKey,
    ) -> Result<Option<(TimerRecord, u64)>, ApiError> {
        let found = native::read(state, key).await?;
        Ok(found.filter(|(record, _)| self.owns(record)))
    }

    /// Whether `record` is one of the service's jobs.
    pub fn owns(&self, record: &TimerRecord) -> bool {
        record.spec.metadata.get(FACADE_KEY).map(String::as_str) == Some(self.name)
    }
}

/// What the API reads of a native timer, stored or just applied.
pub struct Stored<'a> {
    pub status: TimerStatus,
    pub target: &'a Target,
    pub retry: &'a RetryPolicy,
    pub metadata: &'a Metadata,
    pub schedule: &'a Schedule,
    pub runs: u64,
    pub successes: u64,
    pub failures: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> Stored<'a> {
    /// A timer as `spec` defines it, before the scheduler applied it: no call made yet.
    pub fn defined(
        spec: &'a TimerSpec,
        paused: bool,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            status: if paused {
                TimerStatus::Paused
            } else {
                TimerStatus::Scheduled
            },
            target: &spec.target,
            retry: &spec.retry,
            metadata: &spec.metadata,
            schedule: &spec.schedule,
            runs: 0,
            successes: 0,
            failures: 0,
            created_at,
            updated_at,
        }
    }
}

impl<'a> From<&'a TimerRecord> for Stored<'a> {
    fn from(r: &'a TimerRecord) -> Self {
        Self {
            status: r.status,
            target: &r.spec.target,
            retry: &r.spec.retry,
            metadata: &r.spec.metadata,
            schedule: &r.spec.schedule,
            runs: r.runs,
            successes: r.successes,
            failures: r.failures,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl<'a> From<&'a TimerView> for Stored<'a> {
    fn from(v: &'a TimerView) -> Self {
        Self {
            status: v.status,
            target: &v.target,
            retry: &v.retry,
            metadata: &v.metadata,
            schedule: &v.schedule,
            runs: v.runs,
            successes: v.successes,
            failures: v.failures,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// An error answer: `{"status": <label>, "message": <reason>}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    pub label: &'static str,
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, label: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            label,
            message: message.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Doc<'a> {
            status: &'a str,
            message: &'a str,
        }
        go_json(
            self.status,
            &Doc {
                status: self.label,
                message: &self.message,
            },
        )
    }
}

/// `value` as Go's `json.Encoder` writes it: `application/json; charset=utf-8`, one line
/// ending in a newline.
pub fn go_json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "an answer does not encode");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Decodes a JSON object as Go does for these services: unknown fields are ignored, `null`
/// is as good as absent. `None` for anything that is not one JSON object of the right types
/// (the services' 400).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    match serde_json::from_slice::<Value>(body) {
        Ok(doc @ Value::Object(_)) => serde_json::from_value(doc).ok(),
        _ => None,
    }
}

/// How a native refusal of a job's definition reads: the field, in the service's words,
/// then the reason.
pub fn reason(
    error: &ValidationError,
    field_name: impl Fn(&str) -> Option<&'static str>,
) -> String {
    match error.field.as_deref().and_then(field_name) {
        Some(field) => format!("field {field}: {}", error.message),
        None => error.message.clone(),
    }
}

impl From<ApiError> for Problem {
    /// A failure that is not the request's: NATS out of reach (503, try again) or ours (500).
    /// The label is empty, as the originals' was for any status they had no name for.
    fn from(error: ApiError) -> Self {
        match error.0.code {
            ErrorCode::Unauthorized => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", error.0.message)
            }
            ErrorCode::Forbidden => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", error.0.message)
            }
            ErrorCode::Unavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "",
                "the datastore is unavailable; try again",
            ),
            _ => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "",
                "An unexpected error occurred",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            name: "crony",
            namespace: Namespace::parse("crony").unwrap(),
            timezone: Tz::UTC,
            first_id: 1,
        }
    }

    #[test]
    fn ids_are_decimal_integers() {
        let s = service();
        assert_eq!(s.key("42").unwrap().id.as_str(), "42");
        for bad in ["", "abc", "4a", "-1", "1.0", "99999999999999999999999"] {
            assert!(s.key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn answers_are_encoded_as_go_does() {
        let response = go_json(StatusCode::CREATED, &serde_json::json!({"a": 1}));
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
    }

    #[test]
    fn decoding_is_lenient_as_go_is_but_wants_an_object() {
        #[derive(serde::Deserialize)]
        struct In {
            a: Option<i64>,
        }
        assert_eq!(decode::<In>(br#"{"a": 1, "zz": true}"#).unwrap().a, Some(1));
        assert_eq!(decode::<In>(br#"{"a": null}"#).unwrap().a, None);
        assert!(decode::<In>(br#"{"a": "1"}"#).is_none());
        assert!(decode::<In>(b"[]").is_none());
        assert!(decode::<In>(b"").is_none());
        assert!(decode::<In>(b"{").is_none());
    }
}
