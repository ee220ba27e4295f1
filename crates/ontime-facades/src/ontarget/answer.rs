//! ontime-ontarget's answers: plain text (`CREATED: <id>`, `NO TOPIC: <id>`…) or JSON text,
//! every one sent as Express's `res.send(string)` sends it, `text/html; charset=utf-8`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontime_core::ErrorCode;
use ontime_gateway::ApiError;
use serde::Serialize;

/// The Content-Type of every answer, JSON included.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// One answer: a status and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub status: StatusCode,
    pub body: String,
}

/// What a route answers: its success, or its refusal.
pub type Answer = Result<Response, Text>;

impl Text {
    pub fn new(status: StatusCode, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }

    pub fn ok(body: impl Into<String>) -> Self {
        Self::new(StatusCode::OK, body)
    }

    pub fn bad_request(body: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, body)
    }

    pub fn not_found(body: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, body)
    }

    /// `value` as JSON text.
    pub fn json<T: Serialize>(value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Self::ok(body),
            Err(e) => internal(&e),
        }
    }

    /// 413, as the original's body parsers answered a body over their limit.
    pub fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD TOO LARGE")
    }

    /// Express's 404 for a path or a method it has no route for.
    pub fn no_route(method: &str, path: &str) -> Self {
        Self::not_found(format!("Cannot {method} {path}"))
    }
}

impl IntoResponse for Text {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

impl From<ApiError> for Text {
    /// A failure that is not the request's: NATS out of reach is a 503 that says to try
    /// again (nothing was stored, or the change is durable and will be applied), anything
    /// else a 500 whose detail stays in the log.
    fn from(error: ApiError) -> Self {
        match error.code() {
            ErrorCode::Unauthorized => Text::new(
                StatusCode::UNAUTHORIZED,
                format!("UNAUTHORIZED: {}", error.0.message),
            ),
            ErrorCode::Forbidden => Text::new(
                StatusCode::FORBIDDEN,
                format!("FORBIDDEN: {}", error.0.message),
            ),
            ErrorCode::Unavailable => Text::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE UNAVAILABLE: try again",
            ),
            _ => internal(&error.0.message),
        }
    }
}

impl From<ontime_nats::NatsError> for Text {
    fn from(error: ontime_nats::NatsError) -> Self {
        ApiError::from(error).into()
    }
}

fn internal(detail: &dyn std::fmt::Display) -> Text {
    tracing::error!(%detail, "an ontime-ontarget request failed");
    Text::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL ERROR")
}
