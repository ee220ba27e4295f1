//! Decoding and validating request bodies, as pure functions: everything that can be
//! refused is refused here, before anything is published.

use ontime_core::error::from_json_slice;
use ontime_core::metadata;
use ontime_core::schedule::Schedule;
use ontime_core::timer::TimerSpec;
use ontime_core::{ErrorCode, Limits, TimerId, ValidationError};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A timer as `POST …/timers` and batch items take it: the fields of a `TimerSpec`, plus an
/// optional `id` (a UUIDv7 is chosen when it is absent).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTimer {
    /// The timer's id; upserts when a timer with this id exists.
    #[schema(example = "invoice-42")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub spec: TimerSpec,
}

/// The body of `POST …/timers:batch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchRequest {
    /// 1 to 1,000 timers, no two with the same `id`.
    pub timers: Vec<NewTimer>,
}

/// A `PUT` body: a whole `TimerSpec`, under the operator's `limits` (`GatewayConfig::limits`).
pub fn spec(bytes: &[u8], limits: &Limits) -> Result<TimerSpec, ValidationError> {
    let mut spec: TimerSpec = from_json_slice(bytes)?;
    spec.validate_with(limits)?;
    Ok(spec)
}

/// A `POST` body: a `TimerSpec` plus an optional `id`, under the operator's `limits`.
pub fn new_timer_body(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Option<TimerId>, TimerSpec), ValidationError> {
    new_timer(from_json_slice::<Map<String, Value>>(bytes)?, limits)
}

/// One new timer, already known to be a JSON object.
pub fn new_timer(
    mut fields: Map<String, Value>,
    limits: &Limits,
) -> Result<(Option<TimerId>, TimerSpec), ValidationError> {
    let id = match fields.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(TimerId::parse(&id)?),
        Some(_) => return Err(ValidationError::invalid("id", "id must be a string")),
    };
    let mut spec: TimerSpec = from_value(Value::Object(fields))?;
    spec.validate_with(limits)?;
    Ok((id, spec))
}

/// One item of a batch: its id (if given) and spec, or what is wrong with it.
pub type BatchItem = Result<(Option<TimerId>, TimerSpec), ValidationError>;

/// A batch body. The error is for the batch as a whole; each item carries its own, with its
/// path (`timers[3].schedule.at`).
/// Under the operator's `limits`.
pub fn batch(
    bytes: &[u8],
    max_items: usize,
    limits: &Limits,
) -> Result<Vec<BatchItem>, ValidationError> {
    let mut body = from_json_slice::<Map<String, Value>>(bytes)?;
    if let Some(other) = body.keys().find(|k| *k != "timers") {
        return Err(ValidationError::invalid(
            other.clone(),
            format!("unknown field `{other}`; a batch is {{\"timers\": [...]}}"),
        ));
    }
    let Some(Value::Array(items)) = body.remove("timers") else {
        return Err(ValidationError::invalid(
            "timers",
            "timers must be an array of timers",
        ));
    };
    if items.is_empty() || items.len() > max_items {
        return Err(ValidationError::invalid(
            "timers",
            format!("a batch holds 1 to {max_items} timers, not {}", items.len()),
        ));
    }
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let at = format!("timers[{index}]");
            match item {
                Value::Object(fields) => new_timer(fields, limits).map_err(|e| e.within(&at)),
                _ => Err(ValidationError::invalid(at, "each timer is a JSON object")),
            }
        })
        .collect())
}

/// A `PATCH` body: a JSON object changing some of `schedule` (replaced whole), `target`,
/// `retry` and `metadata` (merged, RFC 7396). What can be checked without the current state is checked
/// here; the scheduler validates the merged result.
/// Under the operator's `limits`.
pub fn patch(bytes: &[u8], limits: &Limits) -> Result<Value, ValidationError> {
    let fields = from_json_slice::<Map<String, Value>>(bytes)?;
    if fields.is_empty() {
        return Err(ValidationError::new(
            ErrorCode::InvalidField,
            "a patch changes at least one of schedule, target, retry, metadata",
        ));
    }
    for (name, value) in &fields {
        match name.as_str() {
            "schedule" => {
                let schedule: Schedule =
                    from_value(value.clone()).map_err(|e| e.within("schedule"))?;
                schedule
                    .validate_with(limits)
                    .map_err(|e| e.within("schedule"))?;
            }
            "target" => {
                let Value::Object(target) = value else {
                    return Err(ValidationError::invalid(
                        "target",
                        "target must be an object (it is merged into the current one)",
                    ));
                };
                for (kind, given) in target {
                    let fits = match kind.as_str() {
                        "http" | "nats" => given.is_object() || given.is_null(),
                        // A topic may be named alone (`"topic": "orders"`).
                        "topic" => given.is_object() || given.is_string() || given.is_null(),
                        other => {
                            return Err(ValidationError::invalid(
                                format!("target.{other}"),
                                format!("unknown field `{other}`; a target is http, nats or topic"),
                            ));
                        }
                    };
                    if !fits {
                        return Err(ValidationError::invalid(
                            format!("target.{kind}"),
                            format!(
                                "target.{kind} must be an object (it is merged into the current \
                                 one), or null to remove it"
                            ),
                        ));
                    }
                }
            }
            "metadata" => check_metadata_patch(value)?,
            "retry" => {
                if !(value.is_object() || value.is_null()) {
                    return Err(ValidationError::invalid(
                        "retry",
                        "retry must be an object, or null for the default policy",
                    ));
                }
            }
            other => {
                return Err(ValidationError::invalid(
                    other,
                    format!(
                        "unknown field `{other}`; a patch may change schedule, target, retry \
                         and metadata"
                    ),
                ));
            }
        }
    }
    Ok(Value::Object(fields))
}

/// `metadata` in a patch: an object whose entries are strings (set) or `null` (removed), or
/// `null` (remove them all). Each entry set is checked here; the count only once merged, by
/// the scheduler.
fn check_metadata_patch(value: &Value) -> Result<(), ValidationError> {
    let entries = match value {
        Value::Null => return Ok(()),
        Value::Object(entries) => entries,
        _ => {
            return Err(ValidationError::invalid(
                "metadata",
                "metadata must be an object (it is merged into the current one), or null",
            ));
        }
    };
    for (key, value) in entries {
        let checked = match value {
            // Removing a key: only the key is checked (the empty value always passes).
            Value::Null => metadata::check_entry(key, ""),
            Value::String(text) => metadata::check_entry(key, text),
            _ => Err(ValidationError::invalid(
                key.as_str(),
                "a metadata value is a string, or null to remove the key",
            )),
        };
        checked.map_err(|e| e.within("metadata"))?;
    }
    Ok(())
}

/// Decodes a JSON value into `T`, with the path of the field at fault.
fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ValidationError> {
    // Most documents are valid: only a failure pays for tracking the path of the field at
    // fault (perf: the tracking was most of a batch's validation).
    if let Ok(decoded) = T::deserialize(&value) {
        return Ok(decoded);
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { None } else { Some(path) };
        ValidationError {
            code: ErrorCode::InvalidField,
            message: err.into_inner().to_string(),
            field,
            position: None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok() -> Value {
        json!({"schedule": {"after": "1h"}, "target": {"http": {"url": "http://x.test/"}}})
    }

    fn bytes(v: &Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn specs_are_decoded_and_validated() {
        assert!(spec(&bytes(&ok()), &Limits::default()).is_ok());
        assert_eq!(
            spec(b"{nope", &Limits::default()).unwrap_err().code,
            ErrorCode::InvalidJson
        );
        let mut bad = ok();
        bad["schedule"] = json!({"at": "tomorrow"});
        assert_eq!(
            spec(&bytes(&bad), &Limits::default())
                .unwrap_err()
                .field
                .as_deref(),
            Some("schedule.at")
        );
        let mut bad = ok();
        bad["target"]["http"]["url"] = json!("ftp://x");
        assert_eq!(
            spec(&bytes(&bad), &Limits::default())
                .unwrap_err()
                .field
                .as_deref(),
            Some("target.http.url")
        );
        let mut labelled = ok();
        labelled["metadata"] = json!({"app": "crony"});
        assert_eq!(
            spec(&bytes(&labelled), &Limits::default())
                .unwrap()
                .metadata["app"],
            "crony"
        );
        labelled["metadata"] = json!({"app": "crony", "bad key": "x"});
        assert_eq!(
            spec(&bytes(&labelled), &Limits::default())
                .unwrap_err()
                .field
                .as_deref(),
            Some("metadata.bad key")
        );
        let mut bad = ok();
        bad["id"] = json!("x");
        assert_eq!(
            spec(&bytes(&bad), &Limits::default()).unwrap_err().code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn new_timers_take_an_optional_id() {
        let (id, _) = new_timer_body(&bytes(&ok()), &Limits::default()).unwrap();
        assert!(id.is_none());
        let mut with_id = ok();
        with_id["id"] = json!("order=42");
        assert_eq!(
            new_timer_body(&bytes(&with_id), &Limits::default())
                .unwrap()
                .0
                .unwrap()
                .as_str(),
            "order=42"
        );
        with_id["id"] = json!("a/b");
        assert_eq!(
            new_timer_body(&bytes(&with_id), &Limits::default())
                .unwrap_err()
                .field
                .as_deref(),
            Some("id")
        );
        with_id["id"] = json!(7);
        assert_eq!(
            new_timer_body(&bytes(&with_id), &Limits::default())
                .unwrap_err()
                .field
                .as_deref(),
            Some("id")
        );
        with_id["id"] = json!(null);
        with_id["extra"] = json!(1);
        assert_eq!(
            new_timer_body(&bytes(&with_id), &Limits::default())
                .unwrap_err()
                .code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn batch_items_carry_their_own_errors_with_paths() {
        let mut bad_at = ok();
        bad_at["schedule"] = json!({"at": "soon"});
        let mut bad_id = ok();
        bad_id["id"] = json!("a b");
        let body = json!({"timers": [ok(), bad_at, 3, bad_id]});
        let items = batch(&bytes(&body), 1000, &Limits::default()).unwrap();
        assert!(items[0].is_ok());
        assert_eq!(
            items[1].as_ref().unwrap_err().field.as_deref(),
            Some("timers[1].schedule.at")
        );
        assert_eq!(
            items[2].as_ref().unwrap_err().field.as_deref(),
            Some("timers[2]")
        );
        assert_eq!(
            items[3].as_ref().unwrap_err().field.as_deref(),
            Some("timers[3].id")
        );
    }

    #[test]
    fn batches_have_a_size_and_a_shape() {
        let field = |v: Value, max| {
            batch(&bytes(&v), max, &Limits::default())
                .unwrap_err()
                .field
        };
        assert_eq!(field(json!({"timers": []}), 10).as_deref(), Some("timers"));
        assert_eq!(
            field(json!({"timers": [ok(), ok(), ok()]}), 2).as_deref(),
            Some("timers")
        );
        assert_eq!(field(json!({"timers": {}}), 10).as_deref(), Some("timers"));
        assert_eq!(field(json!({}), 10).as_deref(), Some("timers"));
        assert_eq!(
            field(json!({"timers": [ok()], "more": 1}), 10).as_deref(),
            Some("more")
        );
        assert_eq!(
            batch(b"[]", 10, &Limits::default()).unwrap_err().code,
            ErrorCode::InvalidJson
        );
    }

    #[test]
    fn patches_are_checked_before_publishing() {
        assert!(
            patch(
                &bytes(&json!({"schedule": {"after": "5s"}, "retry": {"max_attempts": 2}})),
                &Limits::default()
            )
            .is_ok()
        );
        assert!(
            patch(
                &bytes(&json!({"target": {"http": {"method": "PUT"}}, "retry": null})),
                &Limits::default()
            )
            .is_ok()
        );
        let field = |v: Value| patch(&bytes(&v), &Limits::default()).unwrap_err().field;
        assert_eq!(
            field(json!({"schedule": {"at": "x"}})).as_deref(),
            Some("schedule.at")
        );
        assert_eq!(field(json!({"schedule": {}})).as_deref(), Some("schedule"));
        // Unknown fields are reported at their own path, as `from_json_slice` does.
        assert_eq!(
            field(json!({"schedule": {"sometimes": "1s"}})).as_deref(),
            Some("schedule.sometimes")
        );
        assert_eq!(field(json!({"target": null})).as_deref(), Some("target"));
        assert_eq!(
            field(json!({"target": {"mail": {}}})).as_deref(),
            Some("target.mail")
        );
        assert_eq!(
            field(json!({"target": {"http": 1}})).as_deref(),
            Some("target.http")
        );
        assert_eq!(field(json!({"retry": 3})).as_deref(), Some("retry"));
        assert!(
            patch(
                &bytes(&json!({"metadata": {"a": "1", "b": null}})),
                &Limits::default()
            )
            .is_ok()
        );
        assert!(patch(&bytes(&json!({"metadata": null})), &Limits::default()).is_ok());
        assert_eq!(
            field(json!({"metadata": ["a"]})).as_deref(),
            Some("metadata")
        );
        assert_eq!(
            field(json!({"metadata": {"a": 1}})).as_deref(),
            Some("metadata.a")
        );
        assert_eq!(
            field(json!({"metadata": {"a&b": null}})).as_deref(),
            Some("metadata.a&b")
        );
        assert_eq!(
            field(json!({"metadata": {"a": "x".repeat(513)}})).as_deref(),
            Some("metadata.a")
        );
        assert_eq!(
            field(json!({"status": "paused"})).as_deref(),
            Some("status")
        );
        assert_eq!(
            patch(b"{}", &Limits::default()).unwrap_err().code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            patch(b"[1]", &Limits::default()).unwrap_err().code,
            ErrorCode::InvalidJson
        );
    }
}
