//! `/v1/namespaces/{ns}/dead-letters[/{id}]`: the calls that failed for good (attempts or
//! time exhausted, or a final answer), with what was called and the last attempt; replayed
//! (`POST …/{id}:replay`: one more attempt of the same delivery, under the same delivery id)
//! or discarded (`DELETE`).

use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use ontime_core::fire::Fire;
use ontime_core::id::{Namespace, TimerId};
use ontime_core::timer::{DeadLetter, TimerStatus};
use ontime_core::trust::access::Role;
use ontime_core::{ErrorCode, TimerKey, ValidationError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::input::{self, IdPath, NsPath};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/namespaces/{ns}/dead-letters", get(list_dead_letters))
        .route(
            "/v1/namespaces/{ns}/dead-letters/{id}",
            get(get_dead_letter)
                .delete(discard_dead_letter)
                .post(replay_dead_letter),
        )
}

/// A namespace's dead letters, newest failure first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterPage {
    pub items: Vec<DeadLetter>,
}

/// A replay on its way.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replay {
    pub delivery_id: String,
    /// The attempt it makes; its outcome is in the timer's execution log, and the letter
    /// leaves the list if it succeeds.
    pub attempt: u32,
}

/// The calls of a namespace that failed for good.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/dead-letters", tag = "timers",
    params(("ns" = String, Path, description = "Namespace"), ("limit" = Option<u64>, Query, description = "Most letters to list (default 100, at most 1000)")),
    responses(
        (status = 200, description = "The letters, newest failure first", body = DeadLetterPage),
        (status = 422, description = "A parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    RawQuery(query): RawQuery,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let params = input::query(query.as_deref(), &["limit"])?;
    let limit = input::limit(&params, 100, 1000)?;
    let items = state.topology.dead_letters.list(&ns, limit).await?;
    Ok(Json(DeadLetterPage { items }))
}

async fn letter(state: &AppState, ns: &Namespace, id: &str) -> Result<DeadLetter, ApiError> {
    let none = || ApiError::not_found(format!("namespace {ns} has no dead letter {id}"));
    // An id is a delivery id as one token: anything else names no letter (and is no key).
    let token = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=');
    if id.is_empty() || id.len() > 1024 || !id.bytes().all(token) {
        return Err(none());
    }
    state
        .topology
        .dead_letters
        .get(ns, id)
        .await?
        .ok_or_else(none)
}

/// A dead letter: what was called, and its last attempt.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/dead-letters/{id}", tag = "timers",
    params(("ns" = String, Path, description = "Namespace"), ("id" = String, Path, description = "The letter's id")),
    responses(
        (status = 200, description = "The letter", body = DeadLetter),
        (status = 404, description = "No such letter", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn get_dead_letter(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    IdPath(id): IdPath,
) -> Result<Json<DeadLetter>, ApiError> {
    letter(&state, &ns, &id).await.map(Json)
}

/// Take a letter off the list.
#[utoipa::path(
    delete, path = "/v1/namespaces/{ns}/dead-letters/{id}", tag = "timers",
    params(("ns" = String, Path, description = "Namespace"), ("id" = String, Path, description = "The letter's id")),
    responses(
        (status = 204, description = "Discarded"),
        (status = 404, description = "No such letter", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn discard_dead_letter(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    let letter = letter(&state, &ns, &id).await?;
    state
        .topology
        .dead_letters
        .discard(&ns, &letter.delivery_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replay a letter (`{id}:replay`): one more attempt of the same delivery, under the same
/// delivery id, made by a worker at once. The timer's state does not change; the attempt
/// goes to its execution log, and the letter leaves the list if it succeeds.
#[utoipa::path(
    post, path = "/v1/namespaces/{ns}/dead-letters/{id}", tag = "timers",
    params(("ns" = String, Path, description = "Namespace"), ("id" = String, Path, description = "`<letter id>:replay`")),
    responses(
        (status = 202, description = "The attempt is on its way", body = Replay),
        (status = 404, description = "No such letter", body = ValidationError),
        (status = 405, description = "POST on a letter itself", body = ValidationError),
        (status = 409, description = "The timer was changed or deleted since: the delivery is not its any more", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn replay_dead_letter(
    State(state): State<AppState>,
    caller: Caller,
    NsPath(ns): NsPath,
    IdPath(segment): IdPath,
    uri: Uri,
) -> Result<Response, ApiError> {
    let (id, action) = input::split_action(&segment);
    if action != Some("replay") {
        return Ok(crate::error::method_not_allowed_on(
            &Method::POST,
            uri.path(),
        ));
    }
    let letter = letter(&state, &ns, id).await?;
    let last = &letter.last_attempt;
    let key = TimerKey::new(ns.clone(), TimerId::parse(&letter.timer)?);
    let record = state.topology.timers.get(&key).await?.record;
    let Some(record) =
        record.filter(|r| r.generation == last.generation && r.status != TimerStatus::Cancelled)
    else {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("timer {key} was changed or deleted since: its delivery cannot be replayed"),
        ));
    };
    if record.spec.target.command.is_some() {
        caller.require(Role::Command, &ns)?;
    }
    let fire = Fire {
        namespace: ns,
        id: key.id.clone(),
        generation: last.generation,
        occurrence: last.occurrence,
        attempt: last.attempt + 1,
        due_at: Utc::now(),
        occurrence_due_at: last.occurrence_due_at.unwrap_or(last.due_at),
        triggered: false,
        subscriber: last.subscriber.clone(),
        fan_out: last.fan_out,
        command: record.spec.target.command.is_some(),
        replay: true,
        // The replay's request's trace, or the timer's.
        trace: crate::trace::current().or(record.trace),
    };
    state.topology.fires.store(&fire).await?;
    let replay = Replay {
        delivery_id: letter.delivery_id,
        attempt: fire.attempt,
    };
    Ok((StatusCode::ACCEPTED, Json(replay)).into_response())
}
