//! The Durable Timer API (`api/durable-timer-api.yaml`, served at `/api/v1/openapi.yaml`):
//! `POST /api/v1/timers/{create,get,update,delete}` with JSON bodies.
//!
//! Each timer is a native one-time timer in the native namespace the request names (see
//! [`translate`] for the mapping). Creating is the native upsert; updating and deleting
//! read the timer, check that it is still pending, and submit the change conditionally on
//! the revision they read (`If-Match`), trying again if the timer moved meanwhile, so that
//! a change never lands on a timer that fired in between.

pub mod error;
mod fields;
pub mod model;
pub mod translate;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use bytes::Bytes;
use chrono::Utc;
use ontime_core::command::CommandBody;
use ontime_core::timer::{TimerRecord, TimerStatus};
use ontime_core::trust::access::Role;
use ontime_core::{ErrorCode, TimerKey};
use ontime_gateway::{AppState, Caller, Outcome};
use serde::de::DeserializeOwned;

use error::FacadeError;
use model::{CreateTimerRequest, TimerSelection, UpdateTimerRequest};
use translate::Snapshot;

/// The API's document, as its clients were written against it.
pub const OPENAPI_YAML: &str = include_str!("../../api/durable-timer-api.yaml");

/// How many times a change is tried again when the timer moved between its read and its
/// conditional write (a call being reported, typically).
const CHANGE_TRIES: usize = 5;

/// The API's routes.
pub fn router() -> Router<AppState> {
    // The namespace is in each request's body: the handlers check it once they have read it.
    let timers = Router::new()
        .route("/api/v1/timers/create", only_post(post(create)))
        .route("/api/v1/timers/get", only_post(post(read)))
        .route("/api/v1/timers/update", only_post(post(update)))
        .route("/api/v1/timers/delete", only_post(post(delete)));
    ontime_gateway::guarded::<FacadeError>(timers, None)
        .route("/api/v1/openapi.yaml", get(document))
}

/// Ok when the caller may act as `role` in the timer's namespace.
fn allowed(caller: &Caller, role: Role, key: &TimerKey) -> Result<(), FacadeError> {
    caller
        .require(role, &key.namespace)
        .map_err(FacadeError::from)
}

/// Every operation is a POST; any other method is answered in the API's error shape.
fn only_post(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async {
        let mut response = FacadeError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: error::METHOD_NOT_ALLOWED,
            message: "only POST is allowed here".into(),
            field: None,
        }
        .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        response
    })
}

async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML).into_response()
}

/// `POST /timers/create`: create, or overwrite the timer with this id (200 either way).
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, FacadeError> {
    let request: CreateTimerRequest = body_of(&state, body)?;
    let now = Utc::now();
    let (key, spec) = translate::create(&request, now, &state.config.limits)?;
    allowed(&caller, Role::Write, &key)?;
    let outcome = submit(&state, &key, CommandBody::upsert(spec.clone()), None).await?;
    answer(&key, outcome, || {
        translate::timer(Snapshot::defined(&key, &spec, now, now))
    })
}

/// `POST /timers/get`.
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, FacadeError> {
    let selection: TimerSelection = body_of(&state, body)?;
    let key = translate::key(&selection.namespace, &selection.timer_id, "timerId")?;
    allowed(&caller, Role::Read, &key)?;
    let (record, revision) = existing(&state, &key).await?;
    let view = record.view(revision);
    Ok(Json(translate::timer(Snapshot::from(&view))).into_response())
}

/// `POST /timers/update`: the fields given replace the timer's; only a pending timer.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, FacadeError> {
    let request: UpdateTimerRequest = body_of(&state, body)?;
    let key = translate::key(&request.namespace, &request.timer_id, "timerId")?;
    allowed(&caller, Role::Write, &key)?;
    for _ in 0..CHANGE_TRIES {
        let (record, revision) = existing(&state, &key).await?;
        if request.is_empty() {
            let view = record.view(revision);
            return Ok(Json(translate::timer(Snapshot::from(&view))).into_response());
        }
        pending(&key, &record, "updated")?;
        let now = Utc::now();
        let spec = translate::update(&key, &record, &request, now, &state.config.limits)?;
        let body = CommandBody::upsert(spec.clone());
        match submit(&state, &key, body, Some(revision)).await? {
            Outcome::Refused(e) if e.code == ErrorCode::RevisionConflict => continue,
            outcome => {
                return answer(&key, outcome, || {
                    translate::timer(Snapshot::defined(&key, &spec, record.created_at, now))
                });
            }
        }
    }
    Err(FacadeError::internal("the timer kept changing; try again"))
}

/// `POST /timers/delete`: cancels a pending timer; 204.
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, FacadeError> {
    let selection: TimerSelection = body_of(&state, body)?;
    let key = translate::key(&selection.namespace, &selection.timer_id, "timerId")?;
    allowed(&caller, Role::Write, &key)?;
    for _ in 0..CHANGE_TRIES {
        let (record, revision) = existing(&state, &key).await?;
        pending(&key, &record, "deleted")?;
        match submit(&state, &key, CommandBody::Delete, Some(revision)).await? {
            Outcome::Refused(e) if e.code == ErrorCode::RevisionConflict => continue,
            Outcome::Refused(e) => return Err(FacadeError::from_native(e, key.id.as_str())),
            // Applied, or durable and about to be.
            Outcome::Applied(_) | Outcome::Duplicate(_) | Outcome::Pending => {
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
        }
    }
    Err(FacadeError::internal("the timer kept changing; try again"))
}

/// A request body, decoded; any refusal is the API's 400.
fn body_of<T: DeserializeOwned>(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, FacadeError> {
    let body = body.map_err(|e| {
        FacadeError::invalid(None, format!("the request body could not be read: {e}"))
    })?;
    if body.len() > state.config.max_body_bytes {
        return Err(FacadeError::invalid(
            None,
            format!(
                "the request body is larger than {} bytes",
                state.config.max_body_bytes
            ),
        ));
    }
    translate::decode(&body)
}

/// The timer as stored, unless it does not exist or was deleted (404).
async fn existing(state: &AppState, key: &TimerKey) -> Result<(TimerRecord, u64), FacadeError> {
    match crate::native::read(state, key).await? {
        Some((record, revision)) if record.status != TimerStatus::Cancelled => {
            Ok((record, revision))
        }
        _ => Err(FacadeError::timer_not_found(key.id.as_str())),
    }
}

/// Only a pending timer may be changed: one that has fired is being called, or is done.
fn pending(key: &TimerKey, record: &TimerRecord, what: &str) -> Result<(), FacadeError> {
    if record.spec.schedule.at.is_none() {
        return Err(translate::not_ours(key));
    }
    let state = match record.status {
        TimerStatus::Scheduled | TimerStatus::Paused => return Ok(()),
        TimerStatus::Running => "is being executed",
        _ => "has already been executed",
    };
    Err(FacadeError::invalid(
        None,
        format!(
            "Timer with ID '{}' {state}; only pending timers can be {what}",
            key.id
        ),
    ))
}

/// Submits one command through the gateway's path, as a native request would be. No
/// Idempotency-Key: a create is an upsert under the client's own id, so a retry names the
/// same timer anyway.
async fn submit(
    state: &AppState,
    key: &TimerKey,
    body: CommandBody,
    expected_revision: Option<u64>,
) -> Result<Outcome, FacadeError> {
    Ok(crate::native::submit(state, key, body, expected_revision).await?)
}

/// The 200 answer to a create or an update: the timer as applied, or, when the scheduler's
/// reply was late (the change is durable and will be applied), as `defined` says it will be.
fn answer(
    key: &TimerKey,
    outcome: Outcome,
    defined: impl FnOnce() -> model::Timer,
) -> Result<Response, FacadeError> {
    match outcome {
        Outcome::Applied(view) | Outcome::Duplicate(Some(view)) => {
            Ok(Json(translate::timer(Snapshot::from(&view))).into_response())
        }
        Outcome::Refused(e) => Err(FacadeError::from_native(e, key.id.as_str())),
        Outcome::Duplicate(None) | Outcome::Pending => Ok(Json(defined()).into_response()),
    }
}
