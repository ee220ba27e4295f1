//! CronNG's error answers, GitHub's shapes: `{"message": …}`, and for a refused value
//! `{"message": "Validation Failed", "errors": [{"resource", "field", "code"}]}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontime_core::{ErrorCode, ValidationError};
use ontime_gateway::ApiError;
use serde::Serialize;

/// The kind of object a refused value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Job,
    Proc,
}

/// Why a value is refused (the document's codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The object the field names does not exist.
    Missing,
    /// A required field is not set.
    MissingField,
    /// The field is not written as it must be.
    Invalid,
    /// Another object has the same value in this unique field.
    AlreadyExists,
}

/// One refused value: `{"resource", "field", "code"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Invalid {
    pub resource: Resource,
    pub field: &'static str,
    pub code: Code,
}

impl Invalid {
    pub fn new(resource: Resource, field: &'static str, code: Code) -> Self {
        Self {
            resource,
            field,
            code,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub message: &'static str,
    /// The refused values of a 422.
    pub errors: Vec<Invalid>,
    /// The methods of a 405's path.
    pub allow: Option<&'static str>,
}

impl Problem {
    fn new(status: StatusCode, message: &'static str) -> Self {
        Self {
            status,
            message,
            errors: Vec::new(),
            allow: None,
        }
    }

    /// 400: the body is not JSON, or not the envelope the route takes.
    pub fn bad_json() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Problems parsing JSON")
    }

    /// 404: no such job or proc (or path).
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    /// 405, with the methods the path has.
    pub fn not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        }
    }

    /// 413: the body is over the gateway's limit.
    pub fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large")
    }

    /// 503: NATS out of reach; nothing was done, or what was is durable. Try again.
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }

    /// 500, the detail logged and never answered.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "a CronNG request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    /// 422 for one refused value.
    pub fn invalid(resource: Resource, field: &'static str, code: Code) -> Self {
        Self::from(Invalid::new(resource, field, code))
    }

    /// A native refusal of a definition, in the API's words: the field of `resource` that
    /// carried what was refused (a job's `name` or `definition`; a proc's `crontab`, or its
    /// `job_id` for what it took from the job), or a 404 for a timer that is gone.
    pub fn refused(resource: Resource, error: &ValidationError) -> Self {
        match error.code {
            ErrorCode::NotFound => Self::not_found(),
            ErrorCode::InvalidField | ErrorCode::InvalidJson => {
                tracing::info!(
                    field = error.field.as_deref().unwrap_or_default(),
                    reason = %error.message,
                    "a CronNG {resource:?} was refused"
                );
                Self::invalid(resource, native_field(resource, error), Code::Invalid)
            }
            _ => ApiError(error.clone()).into(),
        }
    }
}

/// The request's field that a native refusal's field (`target.command.run`,
/// `schedule.cron`, `metadata.cronng.name`…) came from.
fn native_field(resource: Resource, error: &ValidationError) -> &'static str {
    let field = error.field.as_deref().unwrap_or_default();
    match resource {
        Resource::Job if field.starts_with("metadata") => "name",
        Resource::Job => "definition",
        Resource::Proc if field.starts_with("schedule") => "crontab",
        Resource::Proc => "job_id",
    }
}

impl From<Invalid> for Problem {
    fn from(invalid: Invalid) -> Self {
        Self {
            errors: vec![invalid],
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
        }
    }
}

impl From<ApiError> for Problem {
    /// A failure that is not the request's: no token or a token that does not allow it
    /// (GitHub's 401 and 403), NATS out of reach (503), or ours (500, logged).
    fn from(error: ApiError) -> Self {
        match error.code() {
            ErrorCode::Unauthorized => {
                Self::new(StatusCode::UNAUTHORIZED, "Requires authentication")
            }
            ErrorCode::Forbidden => Self::new(StatusCode::FORBIDDEN, "Forbidden"),
            ErrorCode::Unavailable => Self::unavailable(),
            _ => Self::internal(&error.0),
        }
    }
}

impl From<ontime_nats::NatsError> for Problem {
    fn from(error: ontime_nats::NatsError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Doc<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            errors: &'a [Invalid],
        }
        let doc = Doc {
            message: self.message,
            errors: &self.errors,
        };
        let mut response = (self.status, Json(doc)).into_response();
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(problem: Problem) -> (StatusCode, serde_json::Value, Option<String>) {
        let response = problem.into_response();
        let status = response.status();
        let allow = response
            .headers()
            .get(header::ALLOW)
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json",
            "{status}"
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), allow)
    }

    #[tokio::test]
    async fn errors_are_written_as_the_document_shows_them() {
        assert_eq!(
            body(Problem::bad_json()).await,
            (
                StatusCode::BAD_REQUEST,
                serde_json::json!({"message": "Problems parsing JSON"}),
                None
            )
        );
        assert_eq!(
            body(Problem::invalid(
                Resource::Job,
                "definition",
                Code::MissingField
            ))
            .await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({"message": "Validation Failed", "errors": [
                    {"resource": "job", "field": "definition", "code": "missing_field"}]}),
                None
            )
        );
        let (status, doc, allow) = body(Problem::not_allowed("GET, POST")).await;
        assert_eq!(
            (status, doc["message"].as_str(), allow.as_deref()),
            (
                StatusCode::METHOD_NOT_ALLOWED,
                Some("Method Not Allowed"),
                Some("GET, POST")
            )
        );
    }

    #[test]
    fn native_errors_keep_their_detail_out_of_the_answer() {
        let cases = [
            (ErrorCode::Unauthorized, 401, "Requires authentication"),
            (ErrorCode::Forbidden, 403, "Forbidden"),
            (ErrorCode::Unavailable, 503, "Service Unavailable"),
            (ErrorCode::Internal, 500, "Internal Server Error"),
            (ErrorCode::Conflict, 500, "Internal Server Error"),
        ];
        for (code, status, message) in cases {
            let problem = Problem::from(ApiError::new(code, "a secret detail"));
            assert_eq!(
                (problem.status.as_u16(), problem.message),
                (status, message)
            );
        }
    }

    #[test]
    fn native_refusals_name_the_request_s_field() {
        let refusal = |field: &str| ValidationError::invalid(field, "no");
        let field = |resource, field| Problem::refused(resource, &refusal(field)).errors[0].field;
        assert_eq!(field(Resource::Job, "target.command"), "definition");
        assert_eq!(field(Resource::Job, "target.command.run"), "definition");
        assert_eq!(field(Resource::Job, "metadata.cronng.name"), "name");
        assert_eq!(field(Resource::Proc, "schedule.cron"), "crontab");
        assert_eq!(field(Resource::Proc, "target.command"), "job_id");
        let gone = ValidationError::new(ErrorCode::NotFound, "gone");
        assert_eq!(
            Problem::refused(Resource::Proc, &gone),
            Problem::not_found()
        );
    }
}
