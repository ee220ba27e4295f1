//! The Durable Timer API's error document, `{"error": CODE, "message": …, "details": …,
//! "timestamp": …}`, and how native errors become it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use ontime_core::{ErrorCode, ValidationError};
use ontime_gateway::ApiError;
use serde_json::{Value, json};

use super::fields;

/// The codes the API's document names.
pub const INVALID_INPUT: &str = "INVALID_INPUT";
pub const TIMER_NOT_FOUND: &str = "TIMER_NOT_FOUND";
pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
/// Not in the document: a method other than POST on one of its paths.
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
/// Not in the document: no token, or a token that is unknown, revoked or expired (401).
pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
/// Not in the document: the token does not cover the timer's namespace or the action (403).
pub const FORBIDDEN: &str = "FORBIDDEN";
/// Not in the document: a path under `/api/v1` that it does not have.
pub const NOT_FOUND: &str = "NOT_FOUND";

/// An error answer of the facade.
#[derive(Debug, Clone, PartialEq)]
pub struct FacadeError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `{"field": "<the request's field at fault>"}`, when one is.
    pub field: Option<String>,
}

impl FacadeError {
    /// 400 `INVALID_INPUT`.
    pub fn invalid(field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: INVALID_INPUT,
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    /// 404 `TIMER_NOT_FOUND`, in the document's words.
    pub fn timer_not_found(id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: TIMER_NOT_FOUND,
            message: format!("Timer with ID '{id}' not found"),
            field: None,
        }
    }

    /// 500 `INTERNAL_ERROR`; `message` is for the client, so it carries no internal detail.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: INTERNAL_ERROR,
            message: message.into(),
            field: None,
        }
    }

    /// A native refusal of a request about timer `id`, in the facade's terms. The document
    /// knows only 400, 404 and 500: every refusal of the input is a 400 (`conflict` and a
    /// body over the limit included), and NATS being out of reach is a 500 that says to
    /// try again.
    pub fn from_native(error: ValidationError, id: &str) -> Self {
        match error.code {
            ErrorCode::NotFound => Self::timer_not_found(id),
            ErrorCode::Unauthorized => Self {
                status: StatusCode::UNAUTHORIZED,
                code: UNAUTHORIZED,
                message: error.message,
                field: None,
            },
            ErrorCode::Forbidden => Self {
                status: StatusCode::FORBIDDEN,
                code: FORBIDDEN,
                message: error.message,
                field: None,
            },
            ErrorCode::Unavailable => Self::internal("the timer store is unavailable; try again"),
            ErrorCode::Internal | ErrorCode::RevisionConflict => {
                Self::internal("An unexpected error occurred")
            }
            ErrorCode::InvalidJson
            | ErrorCode::InvalidField
            | ErrorCode::MethodNotAllowed
            | ErrorCode::Conflict
            | ErrorCode::IdempotencyKeyReused
            | ErrorCode::PayloadTooLarge => {
                let field = error.field.as_deref().map(fields::facade_field);
                let message = match &field {
                    Some(field) => format!("{field}: {}", error.message),
                    None => error.message,
                };
                Self::invalid(field.as_deref(), message)
            }
        }
    }
}

impl From<ApiError> for FacadeError {
    /// An error that names no timer (NATS out of reach, a failure of ours).
    fn from(error: ApiError) -> Self {
        Self::from_native(error.0, "")
    }
}

impl IntoResponse for FacadeError {
    fn into_response(self) -> Response {
        let mut doc = json!({
            "error": self.code,
            "message": self.message,
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let Some(field) = self.field {
            doc["details"] = json!({ "field": field });
        }
        (self.status, Json::<Value>(doc)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_refusals_become_the_documents_codes() {
        let bad = FacadeError::from_native(
            ValidationError::invalid(
                "retry.max_attempts",
                "max_attempts must be between 1 and 100",
            ),
            "t1",
        );
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.code, INVALID_INPUT);
        assert_eq!(bad.field.as_deref(), Some("retryPolicy.maxAttempts"));
        let gone = FacadeError::from_native(ValidationError::not_found("x"), "t1");
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        assert_eq!(gone.message, "Timer with ID 't1' not found");
        for code in [ErrorCode::Unavailable, ErrorCode::Internal] {
            let e = FacadeError::from_native(ValidationError::new(code, "secret detail"), "t1");
            assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(!e.message.contains("secret"));
        }
    }
}
