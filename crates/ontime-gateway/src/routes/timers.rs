//! `/v1/namespaces/{ns}/timers` and `/v1/namespaces/{ns}/timers/{id}`.

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use bytes::Bytes;
use ontime_core::command::{Command, CommandBody};
use ontime_core::metadata::TimerFilter;
use ontime_core::schedule::ScheduleKind;
use ontime_core::timer::{TimerSpec, TimerStatus, TimerView};
use ontime_core::{TimerId, TimerKey, ValidationError};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::input::{self, NsPath, TimerPath, TimerSegment};
use crate::protect;
use crate::responses::{self, Accepted, TimerPage};
use crate::state::AppState;
use crate::submit::{self, Submission};
use crate::validate::{self, NewTimer};

/// Default and largest page of a listing.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(max_body_bytes);
    Router::new()
        .route(
            "/v1/namespaces/{ns}/timers",
            get(list_timers).post(create_timer).layer(limit),
        )
        .route(
            "/v1/namespaces/{ns}/timers/{id}",
            put(put_timer)
                .get(get_timer)
                .patch(patch_timer)
                .delete(delete_timer)
                .post(timer_action)
                .layer(limit),
        )
}

/// Publishes `body` as a command on `key` and answers with what became of it.
pub(crate) async fn command(
    state: &AppState,
    key: TimerKey,
    body: CommandBody,
    headers: &HeaderMap,
    applied: StatusCode,
) -> Result<Response, ApiError> {
    let mut command = Command::new(key, body);
    command.expected_revision = input::if_match(headers)?;
    let idempotency_key = input::idempotency_key(headers)?;
    let command_id = submit::command_id(&command.namespace, idempotency_key.as_deref());
    let submitted = submit::submit(
        state,
        Submission {
            command,
            command_id,
            idempotency_key,
        },
    )
    .await?;
    Ok(responses::submitted(submitted, applied))
}

/// Create or replace a timer.
#[utoipa::path(
    put, path = "/v1/namespaces/{ns}/timers/{id}", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace: 1-64 of A-Z a-z 0-9 . _ -"),
        ("id" = String, Path, description = "Timer id: 1-255 of A-Z a-z 0-9 . _ - ~ @ + ="),
        ("If-Match" = Option<String>, Header, description = "Apply only if the timer is at this revision"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key is applied once and answered the same (24 h); another request under it is a 409"),
    ),
    request_body = TimerSpec,
    responses(
        (status = 200, description = "Applied; the timer as it now stands", body = TimerView),
        (status = 202, description = "Durable, not yet applied", body = Accepted),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 404, description = "If-Match given and no such timer", body = ValidationError),
        (status = 409, description = "If-Match names another revision (`revision_conflict`), or the Idempotency-Key was first used for another request (`idempotency_key_reused`)", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn put_timer(
    State(state): State<AppState>,
    caller: Caller,
    TimerPath(key): TimerPath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = input::body(body, state.config.max_body_bytes)?;
    let spec = validate::spec(&body, &state.config.limits)?;
    if spec.target.command.is_some() {
        protect::may_run_commands(&caller, &key.namespace)?;
    }
    command(
        &state,
        key,
        CommandBody::upsert(spec),
        &headers,
        StatusCode::OK,
    )
    .await
}

/// Create a timer; its id is a UUIDv7 unless the body gives one, or, under an
/// `Idempotency-Key`, a UUIDv5 of the key (a retried request names the same timer).
#[utoipa::path(
    post, path = "/v1/namespaces/{ns}/timers", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key is applied once, and names the same timer"),
    ),
    request_body = NewTimer,
    responses(
        (status = 201, description = "Created (or replaced, when the id exists)", body = TimerView),
        (status = 200, description = "Already applied under this Idempotency-Key", body = TimerView),
        (status = 202, description = "Durable, not yet applied", body = Accepted),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 409, description = "The Idempotency-Key was first used for another request (`idempotency_key_reused`)", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn create_timer(
    State(state): State<AppState>,
    caller: Caller,
    NsPath(namespace): NsPath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = input::body(body, state.config.max_body_bytes)?;
    let (id, spec) = validate::new_timer_body(&body, &state.config.limits)?;
    if spec.target.command.is_some() {
        protect::may_run_commands(&caller, &namespace)?;
    }
    let idempotency_key = input::idempotency_key(&headers)?;
    let command_id = submit::command_id(&namespace, idempotency_key.as_deref());
    let id = match id {
        Some(id) => id,
        None => TimerId::parse(&submit::new_timer_id(
            &command_id,
            idempotency_key.is_some(),
        ))?,
    };
    let command = Command::new(TimerKey::new(namespace, id), CommandBody::upsert(spec));
    let submitted = submit::submit(
        &state,
        Submission {
            command,
            command_id,
            idempotency_key,
        },
    )
    .await?;
    Ok(responses::submitted(submitted, StatusCode::CREATED))
}

/// Read a timer. A cancelled timer is shown until it expires.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/timers/{id}", tag = "timers",
    params(("ns" = String, Path, description = "Namespace"), ("id" = String, Path, description = "Timer id")),
    responses(
        (status = 200, description = "The timer; its revision is also the ETag", body = TimerView),
        (status = 404, description = "No such timer", body = ValidationError),
        (status = 422, description = "Invalid namespace or id", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn get_timer(
    State(state): State<AppState>,
    TimerPath(key): TimerPath,
) -> Result<Response, ApiError> {
    let slot = state.topology.timers.get(&key).await?;
    match slot.record {
        Some(record) => Ok(responses::timer(StatusCode::OK, record.view(slot.revision))),
        None => Err(ApiError::not_found(format!("timer {key} not found"))),
    }
}

/// The query parameters of a listing's metadata filter: `metadata.<key>=<value>`.
pub const METADATA_PARAMS: &str = "metadata.*";

/// List a namespace's timers, ordered by id. Cancelled timers are listed only when asked
/// for with `status=cancelled`. `metadata.<key>=<value>` keeps the timers whose metadata
/// holds that entry (several: all of them); `kind` keeps the timers whose schedule is of
/// that kind. Without a filter, a page reads only its own
/// timers (their ids come from the stream's index of keys); with any filter, every
/// timer of the namespace is read to find the page's. Either way, memory follows the page,
/// not the namespace.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/timers", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("status" = Option<TimerStatus>, Query, description = "Only timers in this status"),
        ("kind" = Option<ScheduleKind>, Query, description = "Only timers whose schedule is of this kind (the field that sets it: `at`, `after`, `cron`, `every` or `iso`)"),
        ("metadata" = Option<std::collections::BTreeMap<String, String>>, Query, style = Form, explode, description = "`metadata.<key>=<value>`: only timers whose metadata holds this entry; several are all required"),
        ("limit" = Option<usize>, Query, description = "Page size, 1-1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page", body = TimerPage),
        (status = 422, description = "Invalid namespace or query parameter", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn list_timers(
    State(state): State<AppState>,
    NsPath(namespace): NsPath,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = input::query(
        query.as_deref(),
        &["status", "kind", "limit", "cursor", METADATA_PARAMS],
    )?;
    let mut filter = TimerFilter::status(input::enum_param::<TimerStatus>(&params, "status")?);
    filter.kind = input::enum_param::<ScheduleKind>(&params, "kind")?;
    for (name, value) in &params {
        if let Some(key) = name.strip_prefix("metadata.") {
            filter.require(key, value)?;
        }
    }
    let limit = input::limit(&params, DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = params.get("cursor").map(String::as_str);
    let page = state
        .topology
        .timers
        .list_matching(&namespace, &filter, limit, cursor)
        .await?;
    let items = page
        .items
        .into_iter()
        .map(|(record, revision)| record.view(revision))
        .collect();
    Ok(axum::Json(TimerPage {
        items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

/// Change some fields: `schedule` is replaced whole, `target`, `retry` and `metadata` are
/// merged (RFC 7396: a metadata key set to `null` is removed).
#[utoipa::path(
    patch, path = "/v1/namespaces/{ns}/timers/{id}", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("id" = String, Path, description = "Timer id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the timer is at this revision"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key is applied once"),
    ),
    request_body(content = Object, description = "Some of `schedule` (replaced whole), `target`, `retry` and `metadata` (merged); schema `TimerPatch`"),
    responses(
        (status = 200, description = "Applied", body = TimerView),
        (status = 202, description = "Durable, not yet applied", body = Accepted),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 404, description = "No such timer", body = ValidationError),
        (status = 409, description = "If-Match names another revision (`revision_conflict`), or the Idempotency-Key was first used for another request (`idempotency_key_reused`)", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn patch_timer(
    State(state): State<AppState>,
    caller: Caller,
    TimerPath(key): TimerPath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = input::body(body, state.config.max_body_bytes)?;
    let patch = validate::patch(&body, &state.config.limits)?;
    // Changing any part of a command timer (its line, its schedule) is deciding what runs and
    // when: it needs the role as much as the creation does. Only a caller without the role
    // costs a read of the timer.
    if let Err(refused) = protect::may_run_commands(&caller, &key.namespace) {
        let touches_command = protect::patch_sets_command(&patch)
            || state
                .topology
                .timers
                .get(&key)
                .await?
                .record
                .is_some_and(|r| r.spec.target.command.is_some());
        if touches_command {
            return Err(refused);
        }
    }
    command(
        &state,
        key,
        CommandBody::Patch { patch },
        &headers,
        StatusCode::OK,
    )
    .await
}

/// Cancel a timer. Answers with its final state (status `cancelled`).
#[utoipa::path(
    delete, path = "/v1/namespaces/{ns}/timers/{id}", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("id" = String, Path, description = "Timer id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the timer is at this revision"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key is applied once"),
    ),
    responses(
        (status = 200, description = "Cancelled", body = TimerView),
        (status = 202, description = "Durable, not yet applied", body = Accepted),
        (status = 404, description = "No such timer", body = ValidationError),
        (status = 409, description = "If-Match names another revision (`revision_conflict`), or the Idempotency-Key was first used for another request (`idempotency_key_reused`)", body = ValidationError),
        (status = 422, description = "Invalid namespace, id or header", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn delete_timer(
    State(state): State<AppState>,
    TimerPath(key): TimerPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    command(&state, key, CommandBody::Delete, &headers, StatusCode::OK).await
}

/// `POST …/timers/{id}:{action}`. Ids cannot contain `:`, so the segment splits on its last
/// `:` into the id and the action (see [`crate::routes::control`]).
pub async fn timer_action(
    State(state): State<AppState>,
    TimerSegment { namespace, segment }: TimerSegment,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let (id, action) = input::split_action(&segment);
    let Some(action) = action else {
        // A timer's own path: POST is not one of its methods (create with POST …/timers).
        return Ok(crate::error::method_not_allowed_on(
            &Method::POST,
            uri.path(),
        ));
    };
    let key = TimerKey::new(namespace, TimerId::parse(id)?);
    crate::routes::control::act(&state, key, action, &headers).await
}
