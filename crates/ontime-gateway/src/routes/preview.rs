//! `GET /v1/schedules:preview`: the next occurrences of a schedule, without creating anything,
//! so that an expression can be checked before a timer uses it.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ontime_core::schedule::Schedule;
use ontime_core::{Limits, ValidationError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::input;
use crate::state::AppState;

const DEFAULT_COUNT: usize = 10;
const MAX_COUNT: usize = 1000;

/// The schedule fields a preview takes as query parameters.
const SCHEDULE_PARAMS: &[&str] = &[
    "at", "after", "cron", "every", "iso", "timezone", "start_at", "end_at", "max_runs",
];

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/schedules:preview", get(preview))
}

/// The next occurrences of a schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// The schedule as understood.
    pub schedule: Schedule,
    /// The instant the occurrences follow (`from`, or now).
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<Utc>,
    /// Up to `count` occurrences, earliest first; fewer when the schedule ends sooner.
    #[schema(value_type = Vec<String>)]
    pub occurrences: Vec<DateTime<Utc>>,
}

/// The next occurrences of a schedule given as query parameters (the fields of `schedule`:
/// `cron`, `every`, `iso`, `at`, `after`, with `timezone`, `start_at`, `end_at`, `max_runs`),
/// as a timer created at `from` (default now) would have them. Errors are the ones creating
/// such a timer would give, with the parameter and the position in the expression.
#[utoipa::path(
    get, path = "/v1/schedules:preview", tag = "schedules",
    params(
        ("cron" = Option<String>, Query, description = "A cron expression, e.g. `0 30 9 * * MON-FRI`"),
        ("every" = Option<String>, Query, description = "A fixed interval, e.g. `90s` or `PT1H`"),
        ("iso" = Option<String>, Query, description = "An ISO 8601 repeating interval, e.g. `R5/2026-12-01T00:00:00Z/P1D`"),
        ("at" = Option<String>, Query, description = "A one-time instant"),
        ("after" = Option<String>, Query, description = "A one-time delay"),
        ("timezone" = Option<String>, Query, description = "IANA time zone (default UTC)"),
        ("start_at" = Option<String>, Query, description = "No occurrence before this instant"),
        ("end_at" = Option<String>, Query, description = "No occurrence after this instant"),
        ("max_runs" = Option<u64>, Query, description = "At most this many occurrences"),
        ("from" = Option<String>, Query, description = "Occurrences after this instant (default now)"),
        ("count" = Option<usize>, Query, description = "How many, 1-1000 (default 10)"),
    ),
    responses(
        (status = 200, description = "The next occurrences", body = Preview),
        (status = 422, description = "The schedule is invalid", body = ValidationError),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Preview>, ApiError> {
    preview_with(&state.config.limits, query)
}

/// The preview under the operator's `limits`: a schedule refused at creation is refused here.
fn preview_with(limits: &Limits, query: Option<String>) -> Result<Json<Preview>, ApiError> {
    let allowed: Vec<&str> = SCHEDULE_PARAMS
        .iter()
        .copied()
        .chain(["from", "count"])
        .collect();
    let params = input::query(query.as_deref(), &allowed)?;
    let count = input::count(&params, "count", DEFAULT_COUNT, MAX_COUNT)?;
    let from = match params.get("from") {
        None => Utc::now(),
        Some(text) => {
            let from = text
                .parse::<DateTime<Utc>>()
                .map_err(|e| ApiError::invalid("from", format!("not an RFC 3339 instant: {e}")))?;
            ontime_core::limits::check_instant("from", from).map_err(ApiError)?;
            from
        }
    };
    let mut doc = serde_json::Map::new();
    for name in SCHEDULE_PARAMS {
        if let Some(value) = params.get(*name) {
            let value = match *name {
                "max_runs" => serde_json::Value::from(value.parse::<u64>().map_err(|_| {
                    ApiError::invalid("max_runs", "max_runs must be a positive integer")
                })?),
                _ => serde_json::Value::String(value.clone()),
            };
            doc.insert((*name).to_owned(), value);
        }
    }
    let schedule: Schedule =
        ontime_core::error::from_json_slice(serde_json::Value::Object(doc).to_string().as_bytes())
            .map_err(ApiError)?;
    schedule.validate_with(limits).map_err(ApiError)?;
    let max = schedule.max_runs.map_or(count, |m| count.min(m as usize));
    // A delay landing past the latest instant is refused, as creating the timer would be; a
    // recurring schedule with nothing left previews no occurrence.
    let occurrences = match schedule.first_due_checked(from) {
        Ok(first) => schedule.starting_at(from, first, max),
        Err(e) if e.field.as_deref() == Some("after") => return Err(ApiError(e)),
        Err(_) => Vec::new(),
    };
    Ok(Json(Preview {
        schedule,
        from,
        occurrences,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(query: &str) -> Result<Preview, ValidationError> {
        preview_with(&Limits::default(), Some(query.to_owned()))
            .map(|Json(p)| p)
            .map_err(|ApiError(e)| e)
    }

    #[tokio::test]
    async fn huge_delays_and_intervals_are_refused_not_panicked_on() {
        for (query, field) in [
            ("after=100000000000h", "after"),
            ("after=70000000h", "after"),
            ("every=1000000000h", "every"),
            ("every=1ns", "every"),
            ("cron=@daily&from=10000-01-01T00:00:00Z", "from"),
        ] {
            let e = run(query).await.unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{query}: {e:?}");
        }
        // Occurrences stop at the end of 9999.
        let p = run("every=1000000h&from=9900-01-01T00:00:00Z")
            .await
            .unwrap();
        assert!(p.occurrences.len() < 10);
        assert!(
            p.occurrences
                .iter()
                .all(|at| *at <= ontime_core::limits::LATEST)
        );
    }

    #[tokio::test]
    async fn cron_in_a_zone() {
        let p =
            run("cron=0+0+9+*+*+MON-FRI&timezone=Europe/Paris&from=2026-11-27T10:00:00Z&count=3")
                .await
                .unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            p.occurrences,
            vec![
                at("2026-11-30T08:00:00Z"),
                at("2026-12-01T08:00:00Z"),
                at("2026-12-02T08:00:00Z")
            ]
        );
    }

    #[tokio::test]
    async fn bounded_by_the_schedule() {
        let p = run("iso=R3/2026-12-01T00:00:00Z/P1M&from=2026-11-27T00:00:00Z")
            .await
            .unwrap();
        assert_eq!(p.occurrences.len(), 3);
        let p = run("every=1h&max_runs=2&count=10").await.unwrap();
        assert_eq!(p.occurrences.len(), 2);
    }

    #[tokio::test]
    async fn errors_point_at_the_parameter_and_position() {
        let e = run("cron=0+0+25+*+*+*").await.unwrap_err();
        assert_eq!((e.field.as_deref(), e.position), (Some("cron"), Some(4)));
        let e = run("cron=*+*+*+*+*&count=0").await.unwrap_err();
        assert_eq!(e.field.as_deref(), Some("count"));
        let e = run("cron=*+*+*+*+*&colour=red").await.unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"));
        let e = run("").await.unwrap_err();
        assert!(e.message.contains("one schedule kind"), "{e:?}");
    }
}
