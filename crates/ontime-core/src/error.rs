//! The one error shape of ontime: a machine-readable code, a message for people, and the
//! field at fault. The REST API answers `{"error": CODE, "message": …, "field": …}` and the
//! scheduler's replies to commands carry the same document.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Machine-readable error codes. Each maps to one HTTP status (see [`ErrorCode::http_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not JSON, or not JSON of the right overall shape (400).
    InvalidJson,
    /// A field has a wrong type or value (422).
    InvalidField,
    /// No token, or a token that is unknown, revoked or expired (401).
    Unauthorized,
    /// The token is valid but its role or namespaces do not cover the request (403).
    Forbidden,
    /// The timer does not exist, or no such route (404).
    NotFound,
    /// The route exists but not with this HTTP method (405).
    MethodNotAllowed,
    /// `If-Match` named a revision that is not the current one (409).
    RevisionConflict,
    /// The timer's state does not allow this, e.g. pausing a finished timer (409).
    Conflict,
    /// The `Idempotency-Key` was first used for another request: another timer, action or
    /// body (409). A retry must repeat the request exactly; a new request needs a new key.
    IdempotencyKeyReused,
    /// The request body is over the configured limit (413).
    PayloadTooLarge,
    /// NATS is unreachable or the topology is missing (503).
    Unavailable,
    /// Anything else; details are in the server's log, not in the answer (500).
    Internal,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidJson => 400,
            Self::InvalidField => 422,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RevisionConflict | Self::Conflict | Self::IdempotencyKeyReused => 409,
            Self::PayloadTooLarge => 413,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

/// An error as ontime reports it, over HTTP and in command replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ValidationError {
    #[serde(rename = "error")]
    pub code: ErrorCode,
    pub message: String,
    /// The path of the field at fault, e.g. `target.http.url` or `items[3].schedule.at`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// Where in the field's text the fault starts (0-based character offset), for
    /// expressions such as a cron line or an ISO 8601 repeating interval.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub position: Option<usize>,
}

impl ValidationError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            position: None,
        }
    }

    /// A 422: `field` holds a value the API does not accept.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidField,
            message: message.into(),
            field: Some(field.into()),
            position: None,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }

    /// Prefixes the field path, so a nested validator can report `schedule.at` as `items[3].schedule.at`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(f) if f.is_empty() => prefix.to_owned(),
            Some(f) if f.starts_with('[') => format!("{prefix}{f}"),
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }
}

/// Decodes a JSON object into `T`, telling a body that is not a JSON object (400
/// `invalid_json`) from an object with a field of the wrong type or value (422
/// `invalid_field`, with the path of the field).
pub fn from_json_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ValidationError> {
    // Most documents are valid: decode them in one pass. Only a failure pays for the value
    // tree and the path tracking that name the field at fault. (The first byte keeps a JSON
    // array, which serde accepts for a struct, on the slow path and its "must be an object".)
    if bytes.trim_ascii_start().first() == Some(&b'{')
        && let Ok(decoded) = serde_json::from_slice(bytes)
    {
        return Ok(decoded);
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ValidationError::new(
            ErrorCode::InvalidJson,
            format!("cannot decode the JSON body: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ValidationError::new(
            ErrorCode::InvalidJson,
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { None } else { Some(field) };
        ValidationError {
            code: ErrorCode::InvalidField,
            message: strip_position(&err.into_inner().to_string()),
            field,
            position: None,
        }
    })
}

/// serde_json appends " at line 1 column 42"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Doc {
        inner: Inner,
    }
    #[derive(Debug, Deserialize)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        let err = from_json_slice::<Doc>(b"{nope").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidJson);
        let err = from_json_slice::<Doc>(b"[1,2]").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidJson);
        // serde would take a struct from an array of its fields: still not an object.
        let err = from_json_slice::<Doc>(br#" [{"n": 1}]"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidJson);
    }

    #[test]
    fn valid_documents_decode_and_a_repeated_key_keeps_the_last() {
        let doc = from_json_slice::<Doc>(br#" {"inner": {"n": 1}}"#).unwrap();
        assert_eq!(doc.inner.n, 1);
        let doc = from_json_slice::<Doc>(br#"{"inner": {"n": 1}, "inner": {"n": 2}}"#).unwrap();
        assert_eq!(doc.inner.n, 2);
    }

    #[test]
    fn wrong_types_are_invalid_fields_with_their_path() {
        let err = from_json_slice::<Doc>(br#"{"inner": {"n": -1}}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidField);
        assert_eq!(err.field.as_deref(), Some("inner.n"));
        assert!(!err.message.contains("line"));
    }

    #[test]
    fn within_builds_paths() {
        let e = ValidationError::invalid("schedule.at", "x").within("items[3]");
        assert_eq!(e.field.as_deref(), Some("items[3].schedule.at"));
    }
}
