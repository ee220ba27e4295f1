//! `POST /v1/namespaces/{ns}/timers/{id}:pause`, `:resume` and `:trigger`.
//!
//! axum cannot route on a suffix of a path segment, so `timers::timer_action` receives every
//! `POST …/timers/{segment}` and hands `{id}:{action}` to [`act`], which calls the action's
//! function: one per action, so each has its own entry in the OpenAPI document.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ontime_core::command::CommandBody;
use ontime_core::timer::TimerView;
use ontime_core::{TimerKey, ValidationError};

use crate::error::ApiError;
use crate::responses::Accepted;
use crate::routes::timers::command;
use crate::state::AppState;

/// Runs `action` on `key`.
pub async fn act(
    state: &AppState,
    key: TimerKey,
    action: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    match action {
        "pause" => pause_timer(state, key, headers).await,
        "resume" => resume_timer(state, key, headers).await,
        "trigger" => trigger_timer(state, key, headers).await,
        other => Err(ApiError(ValidationError::not_found(format!(
            "no action `{other}` on timer {key}; actions are :pause, :resume and :trigger"
        )))),
    }
}

/// Pause a timer: no scheduled occurrence fires until it is resumed; occurrences in flight
/// finish, and `:trigger` still works. Pausing a paused timer changes nothing.
#[utoipa::path(
    post, path = "/v1/namespaces/{ns}/timers/{id}:pause", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("id" = String, Path, description = "Timer id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the timer is at this revision"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key is applied once and answered the same (24 h); another request under it is a 409"),
    ),
    responses(
        (status = 200, description = "Paused; the timer as it now stands", body = TimerView),
        (status = 202, description = "Durable, not yet applied", body = Accepted),
        (status = 404, description = "No such timer", body = ValidationError),
        (status = 409, description = "The timer is finished (`conflict`), If-Match names another revision (`revision_conflict`), or the Idempotency-Key was first used for another request (`idempotency_key_reused`)", body = ValidationError),
        (status = 422, description = "Invalid namespace, id or header", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn pause_timer(
    state: &AppState,
    key: TimerKey,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    command(state, key, CommandBody::Pause, headers, StatusCode::OK).await
}

/// Resume a paused timer. The next occurrence is computed from now under the timer's misfire
/// policy: with `fire_once` (the default) an occurrence missed while paused fires once at
/// once, with `skip` none does, with `fire_all` each does (at most 100).
#[utoipa::path(
    post, path = "/v1/namespaces/{ns}/timers/{id}:resume", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("id" = String, Path, description = "Timer id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the timer is at this revision"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key is applied once and answered the same (24 h); another request under it is a 409"),
    ),
    responses(
        (status = 200, description = "Resumed; the timer as it now stands", body = TimerView),
        (status = 202, description = "Durable, not yet applied", body = Accepted),
        (status = 404, description = "No such timer", body = ValidationError),
        (status = 409, description = "The timer is finished (`conflict`), If-Match names another revision (`revision_conflict`), or the Idempotency-Key was first used for another request (`idempotency_key_reused`)", body = ValidationError),
        (status = 422, description = "Invalid namespace, id or header", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn resume_timer(
    state: &AppState,
    key: TimerKey,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    command(state, key, CommandBody::Resume, headers, StatusCode::OK).await
}

/// Fire one occurrence now (an ad hoc run), paused or not, without changing the schedule.
/// It has its own occurrence number, retries and log entries, and does not count towards
/// `max_runs`. Send an `Idempotency-Key` to make a retried request fire once.
#[utoipa::path(
    post, path = "/v1/namespaces/{ns}/timers/{id}:trigger", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("id" = String, Path, description = "Timer id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the timer is at this revision"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key fires once and is answered the same (24 h); another request under it is a 409"),
    ),
    responses(
        (status = 200, description = "Fired; the timer as it now stands", body = TimerView),
        (status = 202, description = "Durable, not yet applied", body = Accepted),
        (status = 404, description = "No such timer", body = ValidationError),
        (status = 409, description = "The timer is finished (`conflict`), If-Match names another revision (`revision_conflict`), or the Idempotency-Key was first used for another request (`idempotency_key_reused`)", body = ValidationError),
        (status = 422, description = "Invalid namespace, id or header", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn trigger_timer(
    state: &AppState,
    key: TimerKey,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    command(state, key, CommandBody::Trigger, headers, StatusCode::OK).await
}
