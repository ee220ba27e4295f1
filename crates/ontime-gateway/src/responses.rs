//! The documents the API answers with (besides the core's `TimerView`, `Attempt` and
//! `ValidationError`), and how a submitted command becomes an HTTP answer.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontime_core::ValidationError;
use ontime_core::timer::{Attempt, TimerView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::submit::{Outcome, Submitted};

/// `202 Accepted`: the command is durable and will be applied, but the scheduler's reply did
/// not come within the gateway's wait. Poll the timer to see it applied.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// The command's id (its `Nats-Msg-Id`).
    pub command_id: String,
    /// The timer's namespace and id (a generated one included): where to poll.
    #[schema(value_type = String)]
    pub namespace: ontime_core::Namespace,
    #[schema(value_type = String)]
    pub id: ontime_core::TimerId,
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: String,
}

impl Accepted {
    pub fn new(command_id: String, key: ontime_core::TimerKey) -> Self {
        Self {
            command_id,
            namespace: key.namespace,
            id: key.id,
            status: "accepted".into(),
        }
    }
}

/// One page of timers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimerPage {
    pub items: Vec<TimerView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One page of a timer's execution log, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionPage {
    pub items: Vec<Attempt>,
    /// Pass as `cursor` to get older attempts; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The answer to a batch: one result per submitted timer, in order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
}

/// What became of one timer of a batch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    /// Its position in the request.
    pub index: usize,
    /// Its id (chosen by the gateway when the item had none); absent if the item was invalid.
    pub id: Option<String>,
    /// The HTTP status this timer alone would have had: 201 applied, 200 already applied
    /// (same `Idempotency-Key`), 202 accepted, or an error status.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<TimerView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ValidationError>,
    /// Present with 202: the id of the command that will be applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
}

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// What `/health` answers: the process is up, and whether its NATS connection is. The seeds'
/// clients read the same document: Crony's (`api`, `postgres`) and CronHubot's (`api`,
/// `mysql`), whose datastore is NATS here.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Liveness {
    #[schema(example = "ok")]
    pub status: String,
    /// Always true: the API serves.
    pub api: bool,
    /// The NATS connection is up.
    pub nats: bool,
    /// Same as `nats`, for Crony's clients.
    pub postgres: bool,
    /// Same as `nats`, for CronHubot's clients.
    pub mysql: bool,
}

/// A timer with its revision as the `ETag`, for a later `If-Match`.
pub fn timer(status: StatusCode, view: TimerView) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", view.revision)).ok();
    let mut response = (status, Json(view)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The HTTP answer to a submitted command. `applied` is the status of an applied command
/// (201 for a POST, 200 otherwise).
pub fn submitted(submitted: Submitted, applied: StatusCode) -> Response {
    match submitted.outcome {
        Outcome::Applied(view) => timer(applied, view),
        Outcome::Refused(error) => ApiError(error).into_response(),
        Outcome::Duplicate(Some(view)) => timer(StatusCode::OK, view),
        Outcome::Duplicate(None) | Outcome::Pending => (
            StatusCode::ACCEPTED,
            Json(Accepted::new(submitted.command_id, submitted.key)),
        )
            .into_response(),
    }
}

/// The batch result of one submitted command.
pub fn batch_result(
    index: usize,
    id: String,
    submitted: Result<Submitted, ApiError>,
) -> BatchResult {
    let mut result = BatchResult {
        index,
        id: Some(id),
        status: 0,
        timer: None,
        error: None,
        command_id: None,
    };
    match submitted {
        Ok(Submitted {
            outcome: Outcome::Applied(view),
            ..
        }) => {
            result.status = 201;
            result.timer = Some(view);
        }
        Ok(Submitted {
            outcome: Outcome::Duplicate(Some(view)),
            ..
        }) => {
            result.status = 200;
            result.timer = Some(view);
        }
        Ok(Submitted {
            outcome: Outcome::Duplicate(None) | Outcome::Pending,
            command_id,
            ..
        }) => {
            result.status = 202;
            result.command_id = Some(command_id);
        }
        Ok(Submitted {
            outcome: Outcome::Refused(error),
            ..
        })
        | Err(ApiError(error)) => {
            result.status = error.code.http_status();
            result.error = Some(error);
        }
    }
    result
}

/// The batch result of an item refused before publishing.
pub fn batch_refusal(index: usize, error: ValidationError) -> BatchResult {
    BatchResult {
        index,
        id: None,
        status: error.code.http_status(),
        timer: None,
        error: Some(error),
        command_id: None,
    }
}
