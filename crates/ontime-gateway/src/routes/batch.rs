//! `POST /v1/namespaces/{ns}/timers:batch`: up to 1,000 timers in one request.

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use ontime_core::command::{Command, CommandBody};
use ontime_core::{TimerId, TimerKey, ValidationError};

use crate::error::ApiError;
use crate::input::{self, NsPath};
use crate::responses::{self, BatchResponse, BatchResult};
use crate::state::AppState;
use crate::submit::{self, Submission};
use crate::validate::{self, BatchRequest};

pub fn router(max_batch_body_bytes: usize) -> Router<AppState> {
    Router::new().route(
        "/v1/namespaces/{ns}/timers:batch",
        post(create_batch).layer(DefaultBodyLimit::max(max_batch_body_bytes)),
    )
}

/// Create or replace many timers. Each item is validated on its own (its errors carry paths
/// such as `timers[3].schedule.at`); the valid ones are published together, so one bad item
/// does not hold back the others. The answer is 200 whenever the batch itself was
/// understood: read each item's `status`.
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
        (status = 413, description = "Body over the batch limit", body = ValidationError),
        (status = 422, description = "Not a batch, or over 1,000 items", body = ValidationError),
    )
)]
pub async fn create_batch(
    State(state): State<AppState>,
    NsPath(namespace): NsPath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResponse>, ApiError> {
    let body = input::body(body, state.config.max_batch_body_bytes)?;
    let idempotency_key = input::idempotency_key(&headers)?;
    let items = validate::batch(&body, state.config.max_batch_items)?;

    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(items.len());
    let mut published = Vec::new();
    let mut submissions = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let (id, spec) = match item {
            Ok(item) => item,
            Err(error) => {
                results.push(Some(responses::batch_refusal(index, error)));
                continue;
            }
        };
        let command_id = submit::batch_command_id(&namespace, idempotency_key.as_deref(), index);
        let id = match id {
            Some(id) => id,
            None => TimerId::parse(&submit::new_timer_id(
                &command_id,
                idempotency_key.is_some(),
            ))?,
        };
        results.push(None);
        published.push((index, id.to_string()));
        let command = Command::new(
            TimerKey::new(namespace.clone(), id),
            CommandBody::Upsert { spec },
        );
        submissions.push(Submission {
            command,
            command_id,
        });
    }
    let submitted = submit::submit_all(&state, submissions).await;
    for ((index, id), outcome) in published.into_iter().zip(submitted) {
        results[index] = Some(responses::batch_result(index, id, outcome));
    }
    Ok(Json(BatchResponse {
        results: results.into_iter().flatten().collect(),
    }))
}
