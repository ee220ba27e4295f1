//! The API's own OpenAPI document as the judge of every answer: the status must be one the
//! operation lists, and the body must match that response's schema (JSON Schema, with the
//! document's `$ref`s resolved and its date-time and uri formats checked). The check is
//! strict: an object with declared properties may carry no others, so a field the document
//! does not have is drift too.

use serde_json::{Map, Value, json};

/// The document, as clients were given it.
const YAML: &str = include_str!("../../api/durable-timer-api.yaml");

pub struct Document {
    doc: Value,
    /// `components`, with every object schema closed to undeclared properties.
    strict_components: Value,
}

impl Document {
    pub fn load() -> Self {
        let doc: Value = serde_yaml::from_str(YAML).expect("the API document is YAML");
        let mut strict_components = doc["components"].clone();
        close(&mut strict_components["schemas"]);
        Self {
            doc,
            strict_components,
        }
    }

    /// Panics unless `status` and `body` are what the document says `POST {path}` answers.
    pub fn check(&self, path: &str, status: u16, body: &[u8]) {
        let operation = &self.doc["paths"][path]["post"];
        assert!(operation.is_object(), "the document has no POST {path}");
        let mut response = &operation["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "POST {path} answered {status}, which the document does not list: {}",
            String::from_utf8_lossy(body)
        );
        if let Some(reference) = response["$ref"].as_str() {
            response = self.resolve(reference);
        }
        let Some(schema) = response["content"]["application/json"].get("schema") else {
            assert!(
                body.is_empty(),
                "POST {path} {status} has no body in the document, got {}",
                String::from_utf8_lossy(body)
            );
            return;
        };
        let instance: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "POST {path} {status}: the body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        });
        let root = json!({"components": self.strict_components, "allOf": [schema]});
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&root)
            .expect("the document's schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "POST {path} {status} drifts from the document: {errors:?}\nbody: {instance}"
        );
    }

    fn resolve(&self, reference: &str) -> &Value {
        let pointer = reference
            .strip_prefix('#')
            .expect("a reference inside the document");
        self.doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} is not in the document"))
    }
}

/// Closes every object schema that declares its properties.
fn close(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

#[test]
fn the_check_refuses_drift() {
    let document = Document::load();
    let timer = json!({
        "id": "t", "namespace": "n", "executeAt": "2027-01-01T00:00:00Z",
        "callbackUrl": "http://x.test/", "createdAt": "2027-01-01T00:00:00Z",
        "updatedAt": "2027-01-01T00:00:00Z",
    });
    document.check("/timers/get", 200, timer.to_string().as_bytes());
    let drifted = |doc: Value, status| {
        std::panic::catch_unwind(|| {
            Document::load().check("/timers/get", status, doc.to_string().as_bytes())
        })
        .is_err()
    };
    let mut extra = timer.clone();
    extra["status"] = json!("scheduled");
    assert!(drifted(extra, 200), "an undocumented field");
    let mut missing = timer.clone();
    missing
        .as_object_mut()
        .map(|m: &mut Map<String, Value>| m.remove("createdAt"));
    assert!(drifted(missing, 200), "a required field missing");
    let mut bad_time = timer.clone();
    bad_time["executeAt"] = json!("tomorrow");
    assert!(drifted(bad_time, 200), "not a date-time");
    assert!(drifted(timer, 201), "an undocumented status");
    assert!(drifted(json!({"error": "not_found"}), 404), "no message");
}
