//! `POST /v1/namespaces/{ns}/timers:batch`: up to 1,000 timers in one request.

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use ontime_core::command::{Command, CommandBody, NamedOnce, Reply};
use ontime_core::idempotency::{Remembered, fingerprint_of, reused};
use ontime_core::{Namespace, TimerId, TimerKey, ValidationError};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::input::{self, NsPath};
use crate::responses::{self, BatchResponse, BatchResult};
use crate::state::AppState;
use crate::validate::{self, BatchRequest};
use crate::{protect, submit};

pub fn router(max_batch_body_bytes: usize) -> Router<AppState> {
    Router::new().route(
        "/v1/namespaces/{ns}/timers:batch",
        post(create_batch).layer(DefaultBodyLimit::max(max_batch_body_bytes)),
    )
}

/// Create or replace many timers, each answered on its own.
///
/// Each item is validated on its own (its errors carry paths such as
/// `timers[3].schedule.at`), so one bad item does not hold back the others. A batch names
/// each timer once: an item naming a timer that an earlier item names is refused (422,
/// `timers[i].id`) and the earlier one applied. The valid items go out together, packed into
/// a few batch messages (one stored message, one ack and one reply for many timers). The
/// answer is 200 whenever the batch itself was understood: read each item's `status`.
#[utoipa::path(
    post, path = "/v1/namespaces/{ns}/timers:batch", tag = "timers",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried batch with the same key applies each item once, and names the same timers"),
    ),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One result per item, in order", body = BatchResponse),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 409, description = "The Idempotency-Key was first used for another request (`idempotency_key_reused`)", body = ValidationError),
        (status = 413, description = "Body over the batch limit", body = ValidationError),
        (status = 422, description = "Not a batch, or over 1,000 items, or an invalid namespace or header", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn create_batch(
    State(state): State<AppState>,
    caller: Caller,
    NsPath(namespace): NsPath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResponse>, ApiError> {
    let body = input::body(body, state.config.max_batch_body_bytes)?;
    let idempotency_key = input::idempotency_key(&headers)?;
    let idempotency = idempotency_key.as_deref();
    let items = validate::batch(&body, state.config.max_batch_items, &state.config.limits)?;
    if let Some(key) = idempotency {
        claim(&state, &namespace, key, &body).await?;
    }

    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(items.len());
    let mut named = NamedOnce::with_capacity(items.len());
    let mut commands = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let item = item.and_then(|(id, mut spec)| {
            if spec.target.command.is_some() {
                protect::may_run_commands(&caller, &namespace).map_err(|e| e.0)?;
            }
            protect::spec_target(&state, &namespace, &mut spec)
                .map_err(|e| e.within(&format!("timers[{index}]")))?;
            Ok((
                timer_id(&namespace, idempotency, index, id, &mut named)?,
                spec,
            ))
        });
        match item {
            Ok((id, spec)) => {
                results.push(None);
                let key = TimerKey::new(namespace.clone(), id);
                commands.push((index, Command::new(key, CommandBody::upsert(spec))));
            }
            Err(error) => results.push(Some(responses::batch_refusal(index, error))),
        }
    }
    let ids: Vec<(usize, String)> = commands
        .iter()
        .map(|(index, command)| (*index, command.id.to_string()))
        .collect();
    let submitted = submit::submit_batch(&state, &namespace, idempotency, commands).await;
    for ((index, id), outcome) in ids.into_iter().zip(submitted) {
        results[index] = Some(responses::batch_result(index, id, outcome));
    }
    Ok(Json(BatchResponse {
        results: results.into_iter().flatten().collect(),
    }))
}

/// Claims `key` for this batch request before any of its commands goes out: a key first used
/// for another request (another batch, or a single request) is refused, so that a retry
/// under it can only be this request again. The batch's items are answered, on a retry, from
/// their timers as stored.
async fn claim(
    state: &AppState,
    namespace: &Namespace,
    key: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let first = Remembered {
        fingerprint: fingerprint_of(&serde_json::json!({ "batch": request })),
        seq: 0,
        reply: Reply::pending(),
    };
    match state
        .topology
        .idempotency
        .remember(namespace, key, &first)
        .await?
    {
        Err(earlier) if earlier.fingerprint != first.fingerprint => Err(ApiError(reused(key))),
        _ => Ok(()),
    }
}

/// The timer item `index` is for: its own id, or one chosen for it. Refused when an earlier
/// item (in `named`) is for the same timer (see [`NamedOnce`]).
fn timer_id(
    namespace: &Namespace,
    idempotency_key: Option<&str>,
    index: usize,
    id: Option<TimerId>,
    named: &mut NamedOnce,
) -> Result<TimerId, ValidationError> {
    let id = match id {
        Some(id) => id,
        None => {
            let item = submit::batch_id(namespace, idempotency_key, index);
            TimerId::parse(&submit::new_timer_id(&item, idempotency_key.is_some()))?
        }
    };
    named.name("timers", index, &id)?;
    Ok(id)
}
