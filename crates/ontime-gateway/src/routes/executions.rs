//! `GET /v1/namespaces/{ns}/timers/{id}/executions`: a timer's execution log, newest first.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use ontime_core::ValidationError;
use ontime_core::timer::{Attempt, AttemptOutcome};

use crate::error::ApiError;
use crate::input::{self, TimerPath};
use crate::responses::ExecutionPage;
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/namespaces/{ns}/timers/{id}/executions",
        get(list_executions),
    )
}

/// The attempts of a timer, newest first. The log keeps the last attempts of each timer
/// (100 by default); the cursor is a position in the log, stable while new attempts arrive.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/timers/{id}/executions", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("id" = String, Path, description = "Timer id"),
        ("outcome" = Option<AttemptOutcome>, Query, description = "Only attempts with this outcome"),
        ("limit" = Option<usize>, Query, description = "Page size, 1-1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page, newest first", body = ExecutionPage),
        (status = 404, description = "No such timer", body = ValidationError),
        (status = 422, description = "Invalid namespace, id or query parameter", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn list_executions(
    State(state): State<AppState>,
    TimerPath(key): TimerPath,
    RawQuery(query): RawQuery,
) -> Result<Json<ExecutionPage>, ApiError> {
    let params = input::query(query.as_deref(), &["outcome", "limit", "cursor"])?;
    let outcome = input::enum_param::<AttemptOutcome>(&params, "outcome")?;
    let limit = input::limit(&params, DEFAULT_LIMIT, MAX_LIMIT)?;
    let before = match params.get("cursor") {
        None => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| ApiError::invalid("cursor", "not a cursor this API gave out"))?,
        ),
    };
    let topology = &state.topology;
    let entries = topology.log.entries(&key).await?;
    if entries.is_empty() && topology.timers.get(&key).await?.record.is_none() {
        return Err(ApiError::not_found(format!("timer {key} not found")));
    }
    Ok(Json(page(entries, outcome, before, limit)))
}

/// Newest first, older than `before`, only `outcome`, at most `limit`.
fn page(
    entries: Vec<(u64, Attempt)>,
    outcome: Option<AttemptOutcome>,
    before: Option<u64>,
    limit: usize,
) -> ExecutionPage {
    let mut selected: Vec<(u64, Attempt)> = entries
        .into_iter()
        .rev()
        .filter(|(seq, _)| before.is_none_or(|b| *seq < b))
        .filter(|(_, attempt)| outcome.is_none_or(|o| attempt.outcome == o))
        .take(limit + 1)
        .collect();
    let next_cursor = if selected.len() > limit {
        selected.truncate(limit);
        selected.last().map(|(seq, _)| seq.to_string())
    } else {
        None
    };
    ExecutionPage {
        items: selected.into_iter().map(|(_, a)| a).collect(),
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u32, outcome: AttemptOutcome) -> Attempt {
        Attempt {
            delivery_id: "ns/t/1/1".into(),
            generation: 1,
            occurrence: 1,
            attempt: n,
            due_at: chrono::DateTime::UNIX_EPOCH,
            occurrence_due_at: None,
            started_at: chrono::DateTime::UNIX_EPOCH,
            latency_ms: 1,
            status_code: None,
            error: None,
            outcome,
            next_at: None,
            subscriber: None,
            subscribers: Vec::new(),
            fan_out: 0,
            run: None,
            note: None,
            response: None,
        }
    }

    #[test]
    fn pages_go_from_newest_to_oldest() {
        use AttemptOutcome::*;
        let log: Vec<_> = [(10, Retrying), (12, Retrying), (15, Succeeded)]
            .into_iter()
            .enumerate()
            .map(|(i, (seq, o))| (seq, attempt(i as u32 + 1, o)))
            .collect();
        let first = page(log.clone(), None, None, 2);
        assert_eq!(
            first.items.iter().map(|a| a.attempt).collect::<Vec<_>>(),
            [3, 2]
        );
        assert_eq!(first.next_cursor.as_deref(), Some("12"));
        let second = page(log.clone(), None, Some(12), 2);
        assert_eq!(
            second.items.iter().map(|a| a.attempt).collect::<Vec<_>>(),
            [1]
        );
        assert_eq!(second.next_cursor, None);
        let retries = page(log, Some(Retrying), None, 10);
        assert_eq!(retries.items.len(), 2);
    }
}
