//! What a timer calls when it fires: today an HTTP request.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::duration::HumanDuration;
use crate::error::ValidationError;

/// Longest callback URL accepted (the durable-timer API's limit).
pub const MAX_URL_LEN: usize = 2048;
/// Largest request body a timer may carry, after base64 decoding.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most headers a target may set.
pub const MAX_HEADERS: usize = 64;
/// Per-attempt timeout when none is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest per-attempt timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Headers ontime sets itself on every call; a target may not override them.
pub const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "ontime-attempt",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

/// Where a timer's call goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub http: HttpTarget,
}

/// An HTTP request made at every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// Absolute `http` or `https` URL.
    #[schema(example = "https://api.example.com/hooks/reminder")]
    pub url: String,
    /// Defaults to POST.
    #[serde(default = "default_method")]
    #[schema(example = "POST")]
    pub method: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body, sent as `application/json` unless `content_type` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// A raw body, base64-encoded (standard alphabet); use with `content_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Per-attempt timeout (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "10s")]
    pub timeout: Option<HumanDuration>,
    /// What a 2xx answer means (default `steer`).
    #[serde(default, skip_serializing_if = "AnswerUse::is_default")]
    pub answer: AnswerUse,
}

/// How much of a successful (2xx) answer the timer listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerUse {
    /// The body may steer the timer: `{"code": 400, "message": …}` stops it, `{"ok": false,
    /// "nextExecuteAt": "<RFC 3339>"}` moves its next occurrence, `{"ok": false}` alone is a
    /// failure. Any other body is a success.
    #[default]
    Steer,
    /// Only the status counts: any 2xx is a success, whatever its body says.
    Status,
}

impl AnswerUse {
    fn is_default(&self) -> bool {
        *self == Self::Steer
    }
}

fn default_method() -> String {
    "POST".into()
}

/// Methods a target may use.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl HttpTarget {
    /// The per-attempt timeout in force.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .map(HumanDuration::get)
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// The body bytes and content type to send, if any.
    pub fn body_bytes(&self) -> Option<(Vec<u8>, String)> {
        if let Some(json) = &self.body {
            let ct = self
                .content_type
                .clone()
                .unwrap_or_else(|| "application/json".into());
            return Some((serde_json::to_vec(json).unwrap_or_default(), ct));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(self.body_base64.as_deref()?)
            .ok()?;
        let ct = self
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        Some((raw, ct))
    }

    /// Checks every field; the error names the field relative to this target (`url`, `headers.X`…).
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        if self.url.len() > MAX_URL_LEN {
            return Err(ValidationError::invalid(
                "url",
                format!("url is longer than {MAX_URL_LEN} characters"),
            ));
        }
        let url = url::Url::parse(&self.url).map_err(|e| {
            ValidationError::invalid("url", format!("url is not an absolute URL: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(ValidationError::invalid(
                "url",
                "url must be an http or https URL with a host",
            ));
        }
        self.method = self.method.to_ascii_uppercase();
        if !METHODS.contains(&self.method.as_str()) {
            return Err(ValidationError::invalid(
                "method",
                format!("method must be one of {}", METHODS.join(", ")),
            ));
        }
        if self.headers.len() > MAX_HEADERS {
            return Err(ValidationError::invalid(
                "headers",
                format!("at most {MAX_HEADERS} headers"),
            ));
        }
        for (name, value) in &self.headers {
            let field = format!("headers.{name}");
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ValidationError::invalid(field, "not a valid header name"));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(ValidationError::invalid(
                    field,
                    "this header is set by ontime and cannot be overridden",
                ));
            }
            if http::HeaderValue::from_str(value).is_err() {
                return Err(ValidationError::invalid(field, "not a valid header value"));
            }
        }
        if let Some(ct) = &self.content_type
            && http::HeaderValue::from_str(ct).is_err()
        {
            return Err(ValidationError::invalid(
                "content_type",
                "not a valid content type",
            ));
        }
        match (&self.body, &self.body_base64) {
            (Some(_), Some(_)) => {
                return Err(ValidationError::invalid(
                    "body_base64",
                    "give either body or body_base64, not both",
                ));
            }
            (Some(json), None) => {
                let size = serde_json::to_vec(json)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX);
                if size > MAX_BODY_BYTES {
                    return Err(ValidationError::invalid(
                        "body",
                        format!("body is {size} bytes; the limit is {MAX_BODY_BYTES}"),
                    ));
                }
            }
            (None, Some(b64)) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| {
                        ValidationError::invalid("body_base64", format!("not valid base64: {e}"))
                    })?;
                if raw.len() > MAX_BODY_BYTES {
                    return Err(ValidationError::invalid(
                        "body_base64",
                        format!("body is {} bytes; the limit is {MAX_BODY_BYTES}", raw.len()),
                    ));
                }
            }
            (None, None) => {}
        }
        if let Some(t) = self.timeout
            && (t.get().is_zero() || t.get() > MAX_TIMEOUT)
        {
            return Err(ValidationError::invalid(
                "timeout",
                "timeout must be more than 0 and at most 15m",
            ));
        }
        Ok(())
    }
}

impl Target {
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        self.http.validate().map_err(|e| e.within("http"))
    }

    /// The target as the API shows it: credentials in the URL redacted (see [`redact_url`]).
    /// The stored target, which the worker calls, keeps them.
    pub fn redacted(&self) -> Target {
        let mut shown = self.clone();
        shown.http.url = redact_url(&self.http.url);
        shown
    }
}

/// What replaces a credential in a URL the API shows.
pub const REDACTED: &str = "***";

/// `url` with its credentials hidden: the password becomes `***` (`https://user:***@host/`)
/// and a user name given alone, often a token, becomes `***` too (`https://***@host/`). A URL
/// without credentials, or one that does not parse, is returned as it is.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let result = match (parsed.username().is_empty(), parsed.password().is_some()) {
        (_, true) => parsed.set_password(Some(REDACTED)),
        (false, false) => parsed.set_username(REDACTED),
        (true, false) => return url.to_owned(),
    };
    match result {
        Ok(()) => parsed.into(),
        // A URL that cannot carry credentials has none to hide.
        Err(()) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(json: serde_json::Value) -> Result<Target, ValidationError> {
        let mut t: Target = serde_json::from_value(json)
            .map_err(|e| ValidationError::invalid("", e.to_string()))?;
        t.validate().map(|_| t)
    }

    #[test]
    fn credentials_in_urls_are_redacted_in_views_only() {
        assert_eq!(
            redact_url("https://user:secret@x.test/a?b=1"),
            "https://user:***@x.test/a?b=1"
        );
        assert_eq!(redact_url("https://token@x.test/"), "https://***@x.test/");
        assert_eq!(redact_url("https://:pw@x.test/"), "https://:***@x.test/");
        assert_eq!(redact_url("https://x.test/a"), "https://x.test/a");
        assert_eq!(redact_url("not a url"), "not a url");
        let t = target(serde_json::json!({"http": {"url": "https://u:p@x.test/h"}})).unwrap();
        assert_eq!(t.redacted().http.url, "https://u:***@x.test/h");
        assert_eq!(
            t.http.url, "https://u:p@x.test/h",
            "the stored target keeps them"
        );
    }

    #[test]
    fn defaults_and_normalisation() {
        let t = target(serde_json::json!({"http": {"url": "http://x.test/a", "method": "put"}}))
            .unwrap();
        assert_eq!(t.http.method, "PUT");
        assert_eq!(t.http.timeout(), DEFAULT_TIMEOUT);
        let t = target(serde_json::json!({"http": {"url": "https://x.test"}})).unwrap();
        assert_eq!(t.http.method, "POST");
        assert!(t.http.body_bytes().is_none());
    }

    #[test]
    fn bodies() {
        let t = target(serde_json::json!({"http": {"url": "http://x.test", "body": {"a": 1}}}))
            .unwrap();
        assert_eq!(
            t.http.body_bytes().unwrap(),
            (br#"{"a":1}"#.to_vec(), "application/json".to_owned())
        );
        let t = target(serde_json::json!({"http": {"url": "http://x.test", "body_base64": "aGk=", "content_type": "text/plain"}})).unwrap();
        assert_eq!(
            t.http.body_bytes().unwrap(),
            (b"hi".to_vec(), "text/plain".to_owned())
        );
    }

    #[test]
    fn refusals_name_their_field() {
        let cases = [
            (
                serde_json::json!({"http": {"url": "ftp://x.test"}}),
                "http.url",
            ),
            (
                serde_json::json!({"http": {"url": "not a url"}}),
                "http.url",
            ),
            (
                serde_json::json!({"http": {"url": format!("http://x.test/{}", "a".repeat(2100))}}),
                "http.url",
            ),
            (
                serde_json::json!({"http": {"url": "http://x.test", "method": "BREW"}}),
                "http.method",
            ),
            (
                serde_json::json!({"http": {"url": "http://x.test", "headers": {"webhook-id": "x"}}}),
                "http.headers.webhook-id",
            ),
            (
                serde_json::json!({"http": {"url": "http://x.test", "headers": {"bad name": "x"}}}),
                "http.headers.bad name",
            ),
            (
                serde_json::json!({"http": {"url": "http://x.test", "body": 1, "body_base64": "aGk="}}),
                "http.body_base64",
            ),
            (
                serde_json::json!({"http": {"url": "http://x.test", "body_base64": "***"}}),
                "http.body_base64",
            ),
            (
                serde_json::json!({"http": {"url": "http://x.test", "body": "x".repeat(MAX_BODY_BYTES)}}),
                "http.body",
            ),
            (
                serde_json::json!({"http": {"url": "http://x.test", "timeout": "0s"}}),
                "http.timeout",
            ),
        ];
        for (json, field) in cases {
            let err = target(json.clone()).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{json}: {err:?}");
        }
    }
}
