//! Commands: the only way timer state changes. The gateway publishes them, and so may any
//! service, straight to `ontime.cmd.<ns>.<id>` (schema in `docs/wire.md`). Version 1.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::id::{Namespace, TimerId, TimerKey};
use crate::timer::{Attempt, TimerSpec, TimerView};

/// The wire version this build writes and reads.
pub const WIRE_VERSION: u32 = 1;

/// A command on the command stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Wire version; commands of an unknown version are refused, not guessed at.
    pub v: u32,
    pub namespace: Namespace,
    pub id: TimerId,
    /// Apply only if the timer's current KV revision is this one (`If-Match`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
    #[serde(flatten)]
    pub body: CommandBody,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Commands are decoded and applied one at a time, never stored in bulk: the size of the
// upsert variant costs nothing worth an extra allocation per command.
#[allow(clippy::large_enum_variant)]
pub enum CommandBody {
    /// Create or replace the timer.
    Upsert { spec: TimerSpec },
    /// Change some fields: `schedule` is replaced whole, other fields are merged (RFC 7396).
    Patch { patch: serde_json::Value },
    /// Cancel the timer.
    Delete,
    /// A report of one attempt. With `rearm`, the scheduler holds the retry: it arms a
    /// wake-up at `attempt.next_at` instead of the worker keeping the message (long waits).
    /// ontime's workers send theirs as execution-log entries (`Ontime-Report` header), which
    /// the schedulers apply as this same command.
    Report {
        attempt: Attempt,
        #[serde(default)]
        rearm: bool,
    },
    /// Stop firing scheduled occurrences until resumed (occurrences in flight finish).
    Pause,
    /// Fire scheduled occurrences again; one missed while paused follows the misfire policy.
    Resume,
    /// Fire one occurrence now, outside the schedule, which does not change.
    Trigger,
}

impl Command {
    pub fn new(key: TimerKey, body: CommandBody) -> Self {
        Self {
            v: WIRE_VERSION,
            namespace: key.namespace,
            id: key.id,
            expected_revision: None,
            body,
        }
    }

    pub fn key(&self) -> TimerKey {
        TimerKey::new(self.namespace.clone(), self.id.clone())
    }

    /// Decodes and validates a command from its wire form; the error is what the publisher hears.
    pub fn decode(bytes: &[u8]) -> Result<Self, ValidationError> {
        let mut cmd: Command = crate::error::from_json_slice(bytes)?;
        if cmd.v != WIRE_VERSION {
            return Err(ValidationError::invalid(
                "v",
                format!(
                    "unsupported wire version {}; this build speaks {WIRE_VERSION}",
                    cmd.v
                ),
            ));
        }
        if let CommandBody::Upsert { spec } = &mut cmd.body {
            spec.validate().map_err(|e| e.within("spec"))?;
        }
        Ok(cmd)
    }
}

/// The scheduler's answer to a command that carried a reply subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<TimerView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ValidationError>,
}

impl Reply {
    pub fn applied(timer: TimerView) -> Self {
        Self {
            ok: true,
            timer: Some(timer),
            error: None,
        }
    }

    pub fn failed(error: ValidationError) -> Self {
        Self {
            ok: false,
            timer: None,
            error: Some(error),
        }
    }
}

/// Applies an RFC 7396 JSON merge patch to `target` in place.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(Default::default());
    }
    let object = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge_patch(
                object.entry(key.clone()).or_insert(serde_json::Value::Null),
                value,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        merge_patch(&mut doc, &json!({"c": [1]}));
        assert_eq!(doc, json!({"a": "z", "c": [1]}));
    }

    #[test]
    fn wire_form_is_flat_and_versioned() {
        let json = json!({
            "v": 1, "kind": "upsert", "namespace": "ns", "id": "t1",
            "spec": {"schedule": {"after": "5s"}, "target": {"http": {"url": "http://x.test/"}}}
        });
        let cmd = Command::decode(json.to_string().as_bytes()).unwrap();
        assert!(matches!(cmd.body, CommandBody::Upsert { .. }));
        assert_eq!(serde_json::to_value(&cmd).unwrap()["kind"], "upsert");

        let bad = json!({"v": 2, "kind": "delete", "namespace": "ns", "id": "t1"});
        assert_eq!(
            Command::decode(bad.to_string().as_bytes())
                .unwrap_err()
                .field
                .as_deref(),
            Some("v")
        );
        let bad = json!({"v": 1, "kind": "upsert", "namespace": "ns", "id": "t1",
            "spec": {"schedule": {}, "target": {"http": {"url": "http://x.test/"}}}});
        assert_eq!(
            Command::decode(bad.to_string().as_bytes())
                .unwrap_err()
                .field
                .as_deref(),
            Some("spec.schedule")
        );
        let bad = json!({"v": 1, "kind": "delete", "namespace": "n s", "id": "t1"});
        assert_eq!(
            Command::decode(bad.to_string().as_bytes())
                .unwrap_err()
                .field
                .as_deref(),
            Some("namespace")
        );
    }
}
