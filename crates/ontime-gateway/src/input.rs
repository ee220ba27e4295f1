//! Reading a request: path parameters, headers, the raw body and the query string, each
//! refused in the shared error shape (axum's own extractors answer in shapes of their own).

use std::collections::HashMap;

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use bytes::Bytes;
use ontime_core::{ErrorCode, Namespace, SubscriberId, TimerId, TimerKey, TopicName};

use crate::error::ApiError;

/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The `{ns}` of the path, validated.
pub struct NsPath(pub Namespace);

/// The `{ns}` and `{id}` of the path, validated.
pub struct TimerPath(pub TimerKey);

/// The `{ns}` and `{topic}` of the path, validated.
pub struct TopicPath(pub Namespace, pub TopicName);

/// The `{ns}`, `{topic}` and `{sub}` of the path, validated.
pub struct SubscriberPath(pub Namespace, pub TopicName, pub SubscriberId);
/// The `{name}` of the path, as sent (the route checks it).
pub struct NamePath(pub String);
/// The `{id}` of the path, as sent: an id the route looks up.
pub struct IdPath(pub String);
/// The `{host}` of the path, as URLs write it (lower-cased, no port).
pub struct HostPath(pub String);

/// The `{ns}` of the path, validated, and the `{id}` segment as sent: it may carry an
/// action (`{id}:pause`), so it is split before the id is validated.
pub struct TimerSegment {
    pub namespace: Namespace,
    pub segment: String,
}

async fn params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<HashMap<String, String>, ApiError> {
    match Path::<HashMap<String, String>>::from_request_parts(parts, state).await {
        Ok(Path(params)) => Ok(params),
        Err(PathRejection::FailedToDeserializePathParams(e)) => {
            if let axum::extract::path::ErrorKind::InvalidUtf8InPathParam { key } = e.kind() {
                Err(ApiError::invalid(
                    field_of(key),
                    "not valid UTF-8 once percent-decoded",
                ))
            } else {
                Err(ApiError::internal("reading path parameters", e.body_text()))
            }
        }
        Err(other) => Err(ApiError::internal(
            "reading path parameters",
            other.body_text(),
        )),
    }
}

/// The API's name for a path parameter.
fn field_of(param: &str) -> &str {
    if param == "ns" { "namespace" } else { param }
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| ApiError::internal("routing", format!("route without {{{name}}}")))
}

impl<S: Send + Sync> FromRequestParts<S> for NsPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = params(parts, state).await?;
        Ok(Self(Namespace::parse(param(&params, "ns")?)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TimerPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = params(parts, state).await?;
        let namespace = Namespace::parse(param(&params, "ns")?)?;
        let id = TimerId::parse(param(&params, "id")?)?;
        Ok(Self(TimerKey::new(namespace, id)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TopicPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = params(parts, state).await?;
        Ok(Self(
            Namespace::parse(param(&params, "ns")?)?,
            TopicName::parse(param(&params, "topic")?)?,
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SubscriberPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = params(parts, state).await?;
        Ok(Self(
            Namespace::parse(param(&params, "ns")?)?,
            TopicName::parse(param(&params, "topic")?)?,
            SubscriberId::parse(param(&params, "sub")?)?,
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for NamePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = params(parts, state).await?;
        Ok(Self(param(&params, "name")?.to_owned()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HostPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = params(parts, state).await?;
        let host = ontime_core::flow::host(param(&params, "host")?)?;
        Ok(Self(host))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = params(parts, state).await?;
        Ok(Self(param(&params, "id")?.to_owned()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TimerSegment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = params(parts, state).await?;
        let namespace = Namespace::parse(param(&params, "ns")?)?;
        Ok(Self {
            namespace,
            segment: param(&params, "id")?.to_owned(),
        })
    }
}

/// Splits `{id}:action` on its last `:`. Ids cannot contain `:`, so the split is unambiguous.
pub fn split_action(segment: &str) -> (&str, Option<&str>) {
    match segment.rsplit_once(':') {
        Some((id, action)) => (id, Some(action)),
        None => (segment, None),
    }
}

/// The body, or 413 if it was over `limit` (the route's `DefaultBodyLimit`).
pub fn body(read: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    read.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::new(
                ErrorCode::InvalidJson,
                format!("cannot read the request body: {}", rejection.body_text()),
            )
        }
    })
}

/// `If-Match: 12` or `If-Match: "12"`: the revision a change is conditional on.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let mut values = headers.get_all(http::header::IF_MATCH).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let refuse = || {
        ApiError::invalid(
            "If-Match",
            "If-Match must be one revision number, e.g. 12 or \"12\"",
        )
    };
    if values.next().is_some() {
        return Err(refuse());
    }
    let text = value.to_str().map_err(|_| refuse())?.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    match text.parse::<u64>() {
        Ok(revision) if revision > 0 && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(revision))
        }
        _ => Err(refuse()),
    }
}

/// The client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !printable {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            ),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// The query string's parameters. Unknown or repeated parameters are refused, so a typo
/// (`?stauts=failed`) is an error rather than a silently unfiltered answer. An allowed name
/// ending in `.*` (`metadata.*`) allows every name with that prefix and something after it.
pub fn query(raw: Option<&str>, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let is_allowed = |name: &str| {
        allowed.iter().any(|a| match a.strip_suffix('*') {
            Some(prefix) => name.len() > prefix.len() && name.starts_with(prefix),
            None => *a == name,
        })
    };
    let mut out = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !is_allowed(&name) {
            return Err(ApiError::invalid(
                name.as_ref(),
                format!(
                    "unknown query parameter; this endpoint takes {}",
                    allowed.join(", ")
                ),
            ));
        }
        if out.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(ApiError::invalid(name.as_ref(), "given more than once"));
        }
    }
    Ok(out)
}

/// `limit`: 1 to `max`, `default` when absent.
pub fn limit(
    params: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    count(params, "limit", default, max)
}

/// The parameter `name`: an integer from 1 to `max`, `default` when absent.
pub fn count(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(default);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            name,
            format!("{name} must be an integer from 1 to {max}"),
        )),
    }
}

/// A snake_case enum from a query parameter (`status=failed`), refused with its name.
pub fn enum_param<T: serde::de::DeserializeOwned>(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    serde_json::from_value(serde_json::Value::String(text.clone()))
        .map(Some)
        .map_err(|e| ApiError::invalid(name, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn if_match_takes_a_bare_or_quoted_revision() {
        assert_eq!(if_match(&headers(&[])).unwrap(), None);
        assert_eq!(if_match(&headers(&[("if-match", "12")])).unwrap(), Some(12));
        assert_eq!(
            if_match(&headers(&[("if-match", "\"12\"")])).unwrap(),
            Some(12)
        );
        assert_eq!(if_match(&headers(&[("if-match", " 7 ")])).unwrap(), Some(7));
        for bad in [
            "",
            "*",
            "W/\"12\"",
            "abc",
            "-1",
            "+3",
            "0",
            "\"12",
            "1.5",
            "1, 2",
            "99999999999999999999999",
        ] {
            let err = if_match(&headers(&[("if-match", bad)])).unwrap_err();
            assert_eq!(err.0.field.as_deref(), Some("If-Match"), "{bad}");
            assert_eq!(err.code(), ErrorCode::InvalidField);
        }
        assert!(if_match(&headers(&[("if-match", "1"), ("if-match", "2")])).is_err());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert_eq!(
            idempotency_key(&headers(&[("idempotency-key", "order-42/v1")]))
                .unwrap()
                .as_deref(),
            Some("order-42/v1")
        );
        let long = "k".repeat(MAX_IDEMPOTENCY_KEY_LEN + 1);
        for bad in ["", "a b", long.as_str()] {
            let err = idempotency_key(&headers(&[("idempotency-key", bad)])).unwrap_err();
            assert_eq!(err.0.field.as_deref(), Some("Idempotency-Key"), "{bad:?}");
        }
    }

    #[test]
    fn actions_split_on_the_last_colon() {
        assert_eq!(split_action("t1"), ("t1", None));
        assert_eq!(split_action("t1:pause"), ("t1", Some("pause")));
        assert_eq!(split_action("a:b:c"), ("a:b", Some("c")));
    }

    #[test]
    fn queries_are_strict() {
        let q = query(Some("limit=5&status=failed"), &["limit", "status"]).unwrap();
        assert_eq!(limit(&q, 100, 1000).unwrap(), 5);
        assert_eq!(
            enum_param::<ontime_core::timer::TimerStatus>(&q, "status").unwrap(),
            Some(ontime_core::timer::TimerStatus::Failed)
        );
        assert_eq!(
            query(Some("stauts=x"), &["status"])
                .unwrap_err()
                .0
                .field
                .as_deref(),
            Some("stauts")
        );
        assert_eq!(
            query(Some("limit=1&limit=2"), &["limit"])
                .unwrap_err()
                .0
                .field
                .as_deref(),
            Some("limit")
        );
        for bad in ["limit=0", "limit=1001", "limit=x", "limit="] {
            let q = query(Some(bad), &["limit"]).unwrap();
            assert_eq!(
                limit(&q, 100, 1000).unwrap_err().0.field.as_deref(),
                Some("limit"),
                "{bad}"
            );
        }
        let q = query(Some("metadata.app=crony&metadata.a%20b=x"), &["metadata.*"]).unwrap();
        assert_eq!(q["metadata.app"], "crony");
        assert_eq!(q["metadata.a b"], "x");
        for bad in ["metadata.=x", "metadata=x", "metadatax=1"] {
            assert!(query(Some(bad), &["metadata.*"]).is_err(), "{bad}");
        }
        let q = query(Some("status=sleeping"), &["status"]).unwrap();
        let err = enum_param::<ontime_core::timer::TimerStatus>(&q, "status").unwrap_err();
        assert_eq!(err.0.field.as_deref(), Some("status"));
        assert!(query(None, &[]).unwrap().is_empty());
    }
}
