//! The one error type of the HTTP edge. Every failure, ours or axum's (unknown route, wrong
//! method, body over the limit), comes out as `{"error": CODE, "message": …, "field": …}`
//! with the status of its code.

use axum::Json;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use ontime_core::{ErrorCode, ValidationError};
use ontime_nats::NatsError;

/// An error answer: an [`ontime_core::ValidationError`] sent with the status of its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub ValidationError);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ValidationError::new(code, message))
    }

    /// 422 with the field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(ValidationError::invalid(field, message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 503: NATS did not answer, or refused the command.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 500. The detail goes to the log, never to the client.
    pub fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "{context}");
        Self::new(
            ErrorCode::Internal,
            "internal error; the details are in the gateway's log",
        )
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self(e)
    }
}

impl From<NatsError> for ApiError {
    fn from(e: NatsError) -> Self {
        match e {
            NatsError::Nats(detail) => {
                tracing::warn!(%detail, "NATS request failed");
                Self::unavailable("NATS is unavailable; try again")
            }
            NatsError::TimedOut => Self::unavailable("NATS did not answer in time; try again"),
            other => Self::internal("reading from NATS", other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.0)).into_response()
    }
}

/// The answer to a path no route matches.
pub async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

/// The answer to a method a route does not serve: 405, with the `Allow` header listing the
/// methods the path does serve (axum's own would list every method of the route, but
/// `…/timers/{id}` serves POST only with an action, and `…/timers/{id}:pause` only POST).
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    method_not_allowed_on(&method, uri.path())
}

/// 405 for `method` on `path`, with its `Allow` header.
pub fn method_not_allowed_on(method: &Method, path: &str) -> Response {
    let error = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {path}"),
    );
    ([(header::ALLOW, allowed_methods(path))], error).into_response()
}

/// The methods `path` serves, as an `Allow` header lists them.
pub fn allowed_methods(path: &str) -> &'static str {
    const READ: &str = "GET, HEAD";
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "namespaces", _, timers] if timers.ends_with(":batch") => "POST",
        ["v1", "namespaces", _, "timers"] => "GET, HEAD, POST",
        ["v1", "namespaces", _, "timers", id] if id.contains(':') => "POST",
        ["v1", "namespaces", _, "timers", _] => "GET, HEAD, PUT, PATCH, DELETE",
        ["v1", "namespaces", _, "topics", _] => "GET, HEAD, PUT, DELETE",
        ["v1", "namespaces", _, "topics", _, "subscribers", _] => "GET, HEAD, PUT, DELETE",
        _ => READ,
    }
}

/// Why [`crate::serve`] could not run.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("HTTP server: {0}")]
    Io(#[source] std::io::Error),
    #[error(transparent)]
    Nats(#[from] NatsError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_code_maps_to_its_status_and_the_shared_shape() {
        let cases = [
            (ApiError::new(ErrorCode::InvalidJson, "x"), 400),
            (ApiError::invalid("schedule.at", "x"), 422),
            (ApiError::not_found("x"), 404),
            (ApiError::new(ErrorCode::MethodNotAllowed, "x"), 405),
            (ApiError::new(ErrorCode::RevisionConflict, "x"), 409),
            (ApiError::payload_too_large(10), 413),
            (ApiError::unavailable("x"), 503),
            (ApiError::internal("test", "secret detail"), 500),
        ];
        for (error, status) in cases {
            let response = error.clone().into_response();
            assert_eq!(response.status().as_u16(), status, "{error:?}");
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(doc["error"], serde_json::to_value(error.code()).unwrap());
            assert!(doc["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(
                !doc.to_string().contains("secret"),
                "internal details leak: {doc}"
            );
        }
    }

    #[tokio::test]
    async fn a_405_allows_what_the_path_serves() {
        for (path, allow) in [
            ("/v1/namespaces/shop/timers", "GET, HEAD, POST"),
            (
                "/v1/namespaces/shop/timers/t1",
                "GET, HEAD, PUT, PATCH, DELETE",
            ),
            ("/v1/namespaces/shop/timers/t1:pause", "POST"),
            ("/v1/namespaces/shop/timers:batch", "POST"),
            ("/v1/namespaces/shop/timers/t1/executions", "GET, HEAD"),
            ("/v1/schedules:preview", "GET, HEAD"),
            ("/health", "GET, HEAD"),
        ] {
            let response = method_not_allowed_on(&Method::OPTIONS, path);
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(response.headers()[header::ALLOW], allow, "{path}");
        }
    }

    #[test]
    fn nats_failures_are_unavailable_and_corruption_internal() {
        assert_eq!(
            ApiError::from(NatsError::Nats("timed out".into())).code(),
            ErrorCode::Unavailable
        );
        assert_eq!(
            ApiError::from(NatsError::Corrupt("bad json".into())).code(),
            ErrorCode::Internal
        );
    }
}
