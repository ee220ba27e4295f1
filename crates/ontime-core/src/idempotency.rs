//! Idempotency keys. A key names one request: the same key with the same request is a retry,
//! answered what the first request got and applied at most once; the same key with another
//! request (another timer, action, body or `If-Match`) is refused
//! ([`crate::ErrorCode::IdempotencyKeyReused`]), never silently taken for the first one.
//!
//! A command sent under a key carries [`Idempotency`]: the key and a fingerprint of the
//! request. The scheduler that applies it remembers a [`Remembered`] result under the key,
//! which answers a retry, whether JetStream de-duplicated it (within its window) or it
//! arrived as a new command later.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::command::{Command, Reply};
use crate::error::{ErrorCode, ValidationError};
use crate::hex;
use crate::id::Namespace;

/// The idempotency key a command was sent under, and what identifies its request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idempotency {
    pub key: String,
    /// Any text that is equal for equal requests and differs for others; the gateway sends
    /// [`fingerprint`] of the command.
    pub fingerprint: String,
}

/// What a key's first request came to: the answer for its retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    pub fingerprint: String,
    /// The command stream's sequence of the command that was applied: its own redelivery
    /// is applied again (and armed), while a later command under the key is only answered.
    pub seq: u64,
    pub reply: Reply,
}

impl Remembered {
    /// How a command under `idempotency`, at `seq`, relates to this first use of its key.
    pub fn judge(&self, idempotency: &Idempotency, seq: u64) -> Retry {
        if self.fingerprint != idempotency.fingerprint {
            Retry::Reused(reused(&idempotency.key))
        } else if self.seq == seq {
            Retry::Redelivery
        } else {
            Retry::Answer(Box::new(self.reply.clone()))
        }
    }
}

/// What to do with a command whose key was used before.
#[derive(Debug, Clone, PartialEq)]
pub enum Retry {
    /// The same message again (its first delivery may not have finished): apply it.
    Redelivery,
    /// The same request again: answer this, apply nothing.
    Answer(Box<Reply>),
    /// Another request under the key: refuse it.
    Reused(ValidationError),
}

/// The refusal of a key first used for another request.
pub fn reused(key: &str) -> ValidationError {
    let mut error = ValidationError::new(
        ErrorCode::IdempotencyKeyReused,
        format!(
            "Idempotency-Key `{key}` was used for another request; a retry must repeat the \
             request exactly, and a new request needs a new key"
        ),
    );
    error.field = Some("Idempotency-Key".into());
    error
}

/// A fingerprint of `command` (without its idempotency): SHA-256 of its JSON with object
/// keys in order, so that maps serialised in any order give one fingerprint.
pub fn fingerprint(command: &Command) -> String {
    let mut value = serde_json::to_value(command).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("idempotency");
    }
    fingerprint_of(&value)
}

/// A fingerprint of a JSON document (a batch request's, say): SHA-256 of it with object keys
/// in order.
pub fn fingerprint_of(value: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    canonical(value, &mut hasher);
    hex(&hasher.finalize())
}

/// Where a key's result is kept: a hash of the namespace and the key, so that any key the
/// API accepts makes a valid bucket key of fixed length.
pub fn slot(namespace: &Namespace, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(namespace.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    hex(&hasher.finalize())
}

fn canonical(value: &serde_json::Value, out: &mut Sha256) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.update(b"{");
            for key in keys {
                out.update(serde_json::to_string(key).unwrap_or_default().as_bytes());
                out.update(b":");
                canonical(&map[key], out);
                out.update(b",");
            }
            out.update(b"}");
        }
        Value::Array(items) => {
            out.update(b"[");
            for item in items {
                canonical(item, out);
                out.update(b",");
            }
            out.update(b"]");
        }
        other => out.update(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandBody;
    use crate::id::{TimerId, TimerKey};

    fn key(id: &str) -> TimerKey {
        TimerKey::new(Namespace::parse("ns").unwrap(), TimerId::parse(id).unwrap())
    }

    #[test]
    fn a_fingerprint_tells_requests_apart_and_ignores_map_order() {
        let delete_x = Command::new(key("x"), CommandBody::Delete);
        let delete_y = Command::new(key("y"), CommandBody::Delete);
        let pause_x = Command::new(key("x"), CommandBody::Pause);
        assert_eq!(fingerprint(&delete_x), fingerprint(&delete_x.clone()));
        assert_ne!(fingerprint(&delete_x), fingerprint(&delete_y));
        assert_ne!(fingerprint(&delete_x), fingerprint(&pause_x));
        let mut guarded = delete_x.clone();
        guarded.expected_revision = Some(3);
        assert_ne!(fingerprint(&delete_x), fingerprint(&guarded));
        let mut keyed = delete_x.clone();
        keyed.idempotency = Some(Idempotency {
            key: "k".into(),
            fingerprint: "f".into(),
        });
        assert_eq!(fingerprint(&delete_x), fingerprint(&keyed));

        let a = serde_json::json!({"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": null}});
        let b = serde_json::json!({"a": {"x": null, "y": [1, {"p": 2, "q": 1}]}, "b": 1});
        assert_eq!(fingerprint_of(&a), fingerprint_of(&b));
        assert_ne!(
            fingerprint_of(&a),
            fingerprint_of(&serde_json::json!({"b": 2}))
        );
    }

    #[test]
    fn a_key_used_again_is_a_redelivery_a_retry_or_a_reuse() {
        let first = Remembered {
            fingerprint: "f1".into(),
            seq: 7,
            reply: Reply::pending(),
        };
        let same = Idempotency {
            key: "k".into(),
            fingerprint: "f1".into(),
        };
        let other = Idempotency {
            key: "k".into(),
            fingerprint: "f2".into(),
        };
        assert_eq!(first.judge(&same, 7), Retry::Redelivery);
        assert_eq!(
            first.judge(&same, 9),
            Retry::Answer(Box::new(Reply::pending()))
        );
        match first.judge(&other, 7) {
            Retry::Reused(e) => assert_eq!(e.code, ErrorCode::IdempotencyKeyReused),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn slots_are_valid_bucket_keys_per_namespace() {
        let ns = Namespace::parse("ns").unwrap();
        let other = Namespace::parse("other").unwrap();
        let slot_a = slot(&ns, "a key/with:odd chars");
        assert_eq!(slot_a.len(), 64);
        assert!(slot_a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(slot_a, slot(&other, "a key/with:odd chars"));
    }
}
