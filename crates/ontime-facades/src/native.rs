//! The native operations every facade is made of: read a timer, list a namespace, submit a
//! command through the gateway's own path. Errors are native; each facade says them in its
//! own shape.

use ontime_core::TimerKey;
use ontime_core::command::{Command, CommandBody};
use ontime_core::id::Namespace;
use ontime_core::metadata::TimerFilter;
use ontime_core::timer::{TimerRecord, TimerSpec};
use ontime_gateway::{ApiError, AppState, Outcome, Submission};
use serde_json::{Map, Value};

/// How many timers one page of a full listing reads.
const PAGE: usize = 1000;

/// Submits one command, as a native request would be, and waits for its outcome.
pub async fn submit(
    state: &AppState,
    key: &TimerKey,
    body: CommandBody,
    expected_revision: Option<u64>,
) -> Result<Outcome, ApiError> {
    let mut command = Command::new(key.clone(), body);
    command.expected_revision = expected_revision;
    let command_id = ontime_gateway::command_id(&key.namespace, None);
    let submitted = ontime_gateway::submit(
        state,
        Submission {
            command,
            command_id,
            idempotency_key: None,
        },
    )
    .await?;
    Ok(submitted.outcome)
}

/// The timer as stored and its revision, cancelled ones included; `None` if it never existed
/// (or its record has expired).
pub async fn read(
    state: &AppState,
    key: &TimerKey,
) -> Result<Option<(TimerRecord, u64)>, ApiError> {
    let slot = state.topology.timers.get(key).await?;
    Ok(slot.record.map(|record| (record, slot.revision)))
}

/// Every timer of `ns` that `filter` keeps, page after page.
pub async fn all(
    state: &AppState,
    ns: &Namespace,
    filter: &TimerFilter,
) -> Result<Vec<(TimerRecord, u64)>, ApiError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = state
            .topology
            .timers
            .list_matching(ns, filter, PAGE, cursor.as_deref())
            .await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// The native patch that turns definition `old` into `new`: `schedule` whole (a patch
/// replaces it), the other members as RFC 7396 merge patches.
pub fn patch_between(old: &TimerSpec, new: &TimerSpec) -> Value {
    let (old, new) = (json(old), json(new));
    let mut patch = Map::new();
    for member in ["schedule", "target", "retry", "metadata"] {
        let (before, after) = (&old[member], &new[member]);
        if before == after {
            continue;
        }
        let change = if member == "schedule" {
            after.clone()
        } else {
            merge_patch(before, after)
        };
        patch.insert(member.into(), change);
    }
    Value::Object(patch)
}

fn json(spec: &TimerSpec) -> Value {
    serde_json::to_value(spec).unwrap_or_default()
}

/// The RFC 7396 merge patch that turns `before` into `after`.
fn merge_patch(before: &Value, after: &Value) -> Value {
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return after.clone();
    };
    let mut patch = Map::new();
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        patch.insert(key.clone(), Value::Null);
    }
    for (key, value) in after {
        match before.get(key) {
            Some(old) if old == value => {}
            Some(old) => {
                patch.insert(key.clone(), merge_patch(old, value));
            }
            None => {
                patch.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(patch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_merge_patch_removes_changes_and_adds() {
        let before = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4});
        let after = json!({"a": 1, "b": {"c": 5}, "f": 6});
        let patch = merge_patch(&before, &after);
        assert_eq!(patch, json!({"b": {"c": 5, "d": null}, "e": null, "f": 6}));
    }

    #[test]
    fn a_patch_between_definitions_replaces_the_schedule_and_merges_the_rest() {
        let spec = |cron: &str, url: &str, timeout: Option<&str>| -> TimerSpec {
            let mut http = json!({"url": url, "method": "GET"});
            if let Some(t) = timeout {
                http["timeout"] = json!(t);
            }
            serde_json::from_value(json!({
                "schedule": {"cron": cron, "timezone": "UTC"},
                "target": {"http": http},
                "metadata": {"facade": "x", "name": "a"},
            }))
            .unwrap()
        };
        let old = spec("* * * * * *", "http://h/a", Some("3s"));
        let new = spec("0 * * * * *", "http://h/b", None);
        assert_eq!(
            patch_between(&old, &new),
            json!({"schedule": {"cron": "0 * * * * *", "timezone": "UTC"},
                   "target": {"http": {"url": "http://h/b", "timeout": null}}})
        );
        assert_eq!(patch_between(&old, &old), json!({}));
    }
}
