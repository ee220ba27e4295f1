//! Namespaces and timer ids, and their encoding into NATS subject tokens and KV keys.
//!
//! The API accepts more characters than a NATS subject token (no `.`, `*`, `>`, whitespace)
//! or a KV key (`[-/_=.a-zA-Z0-9]`) can carry, so every name is encoded into a *token*:
//! ASCII letters, digits, `-` and `_` stand for themselves and every other byte becomes
//! `=HH` (upper-case hex). `=` itself is escaped, so the encoding is injective and reversible.
//!
//! What the API accepts (decided here, documented in the README):
//! - a namespace: 1 to 64 characters of `A-Z a-z 0-9 . _ -`;
//! - a timer id: 1 to 255 characters of `A-Z a-z 0-9 . _ - ~ @ + =`, i.e. the URL-unreserved
//!   set plus a few that users put in business keys (`user@example.com`, `order=42`).
//!   `/`, `:`, whitespace and control characters are rejected: `/` and `:` would make the REST
//!   paths (`…/timers/{id}:pause`) ambiguous;
//! - neither may be `.` or `..`, which URLs resolve as relative path segments.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// Longest namespace the API accepts, in characters.
pub const MAX_NAMESPACE_LEN: usize = 64;
/// Longest timer id the API accepts, in characters (the durable-timer API's limit).
pub const MAX_TIMER_ID_LEN: usize = 255;

/// A namespace: the scope in which timer ids are unique.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

/// A timer id, unique within its namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimerId(String);

/// A topic's name, unique within its namespace; the same characters as a timer id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicName(String);

/// A subscriber's id, unique within its topic; the same characters as a timer id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubscriberId(String);

fn is_namespace_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn is_timer_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~' | '@' | '+' | '=')
}

fn check(
    value: &str,
    field: &str,
    max: usize,
    allowed: fn(char) -> bool,
    allowed_text: &str,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::invalid(
            field,
            format!("{field} must not be empty"),
        ));
    }
    let len = value.chars().count();
    if len > max {
        return Err(ValidationError::invalid(
            field,
            format!("{field} is {len} characters long; the limit is {max}"),
        ));
    }
    if let Some((pos, c)) = value.char_indices().find(|&(_, c)| !allowed(c)) {
        return Err(ValidationError::invalid(
            field,
            format!("{field} has {c:?} at position {pos}; allowed characters are {allowed_text}"),
        ));
    }
    // `.` and `..` are path segments with a meaning of their own: in `…/timers/..` a client
    // or proxy resolves them before the request arrives, so such a timer could not be named.
    if matches!(value, "." | "..") {
        return Err(ValidationError::invalid(
            field,
            format!("{field} must not be {value:?}: it is a relative path segment"),
        ));
    }
    Ok(())
}

impl Namespace {
    /// Validates a namespace as the API accepts it.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        check(
            value,
            "namespace",
            MAX_NAMESPACE_LEN,
            is_namespace_char,
            "A-Z a-z 0-9 . _ -",
        )?;
        Ok(Self(value.to_owned()))
    }

    /// The namespace as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace encoded as one NATS subject token / KV key segment.
    pub fn token(&self) -> String {
        encode_token(&self.0)
    }
}

macro_rules! id_like {
    ($t:ty, $field:literal) => {
        impl $t {
            /// Validates the name as the API accepts it (1 to 255 of `A-Z a-z 0-9 . _ - ~ @ +
            /// =`, not `.` or `..`).
            pub fn parse(value: &str) -> Result<Self, ValidationError> {
                check(
                    value,
                    $field,
                    MAX_TIMER_ID_LEN,
                    is_timer_id_char,
                    "A-Z a-z 0-9 . _ - ~ @ + =",
                )?;
                Ok(Self(value.to_owned()))
            }

            /// The name as given.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The name encoded as one NATS subject token / KV key segment.
            pub fn token(&self) -> String {
                encode_token(&self.0)
            }
        }
    };
}
id_like!(TimerId, "id");
id_like!(TopicName, "topic");
id_like!(SubscriberId, "subscriber");

macro_rules! string_newtype_impls {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_newtype_impls!(Namespace);
string_newtype_impls!(TimerId);
string_newtype_impls!(TopicName);
string_newtype_impls!(SubscriberId);

/// A timer's full identity: namespace and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerKey {
    pub namespace: Namespace,
    pub id: TimerId,
}

impl TimerKey {
    pub fn new(namespace: Namespace, id: TimerId) -> Self {
        Self { namespace, id }
    }

    /// The `<ns>.<id>` suffix used for every per-timer subject and for the KV key.
    pub fn subject_suffix(&self) -> String {
        format!("{}.{}", self.namespace.token(), self.id.token())
    }

    /// Parses a `<ns token>.<id token>` suffix back into a key.
    pub fn from_subject_suffix(suffix: &str) -> Option<Self> {
        let (ns, id) = suffix.split_once('.')?;
        let namespace = Namespace::parse(&decode_token(ns)?).ok()?;
        let id = TimerId::parse(&decode_token(id)?).ok()?;
        Some(Self { namespace, id })
    }
}

impl fmt::Display for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.id)
    }
}

/// Encodes any string into a token made of `A-Z a-z 0-9 - _ =` only.
pub fn encode_token(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// Reverses [`encode_token`]; `None` when the token is not a valid encoding.
pub fn decode_token(token: &str) -> Option<String> {
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = token.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dot_segments_are_refused_as_names() {
        for name in [".", ".."] {
            assert_eq!(
                Namespace::parse(name).unwrap_err().field.as_deref(),
                Some("namespace")
            );
            assert_eq!(
                TimerId::parse(name).unwrap_err().field.as_deref(),
                Some("id")
            );
        }
        for name in ["...", ".a", "a..b", "a."] {
            assert!(Namespace::parse(name).is_ok(), "{name}");
            assert!(TimerId::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn plain_names_are_their_own_token() {
        assert_eq!(encode_token("orders-2026_v1"), "orders-2026_v1");
    }

    #[test]
    fn dots_and_specials_are_escaped() {
        assert_eq!(encode_token("a.b"), "a=2Eb");
        assert_eq!(encode_token("x=y"), "x=3Dy");
        assert_eq!(encode_token("u@e.com"), "u=40e=2Ecom");
    }

    #[test]
    fn rejects_what_the_api_does_not_accept() {
        assert!(TimerId::parse("").is_err());
        assert!(TimerId::parse("a/b").is_err());
        assert!(TimerId::parse("a:pause").is_err());
        assert!(TimerId::parse("a b").is_err());
        assert!(TimerId::parse(&"x".repeat(256)).is_err());
        assert!(TimerId::parse(&"x".repeat(255)).is_ok());
        assert!(Namespace::parse("ns@1").is_err());
        assert!(Namespace::parse(&"n".repeat(65)).is_err());
        let err = TimerId::parse("ab cd").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("id"));
        assert!(err.message.contains("position 2"), "{}", err.message);
    }

    #[test]
    fn subject_suffix_round_trips() {
        let key = TimerKey::new(
            Namespace::parse("team.a").unwrap(),
            TimerId::parse("order=42@x.y").unwrap(),
        );
        let suffix = key.subject_suffix();
        assert_eq!(suffix.matches('.').count(), 1);
        assert_eq!(TimerKey::from_subject_suffix(&suffix), Some(key));
    }

    proptest! {
        #[test]
        fn token_round_trips_and_is_subject_safe(s in "\\PC{0,40}") {
            let t = encode_token(&s);
            prop_assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='));
            prop_assert_eq!(decode_token(&t), Some(s));
        }
    }
}
