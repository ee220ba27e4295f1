use super::*;

fn target(json: serde_json::Value) -> Result<Target, ValidationError> {
    let mut t: Target =
        serde_json::from_value(json).map_err(|e| ValidationError::invalid("", e.to_string()))?;
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
    assert_eq!(t.redacted().http.unwrap().url, "https://u:***@x.test/h");
    assert_eq!(
        t.http.as_ref().unwrap().url,
        "https://u:p@x.test/h",
        "the stored target keeps them"
    );
}

#[test]
fn defaults_and_normalisation() {
    let t =
        target(serde_json::json!({"http": {"url": "http://x.test/a", "method": "put"}})).unwrap();
    assert_eq!(t.http.as_ref().unwrap().method, "PUT");
    assert_eq!(t.http.as_ref().unwrap().timeout(), DEFAULT_TIMEOUT);
    let t = target(serde_json::json!({"http": {"url": "https://x.test"}})).unwrap();
    assert_eq!(t.http.as_ref().unwrap().method, "POST");
    assert!(t.http.as_ref().unwrap().body_bytes().is_none());
}

#[test]
fn bodies() {
    let t =
        target(serde_json::json!({"http": {"url": "http://x.test", "body": {"a": 1}}})).unwrap();
    assert_eq!(
        t.http.as_ref().unwrap().body_bytes().unwrap(),
        (br#"{"a":1}"#.to_vec(), Some("application/json".to_owned()))
    );
    let t = target(serde_json::json!({"http": {"url": "http://x.test", "body_base64": "aGk=", "content_type": "text/plain"}})).unwrap();
    assert_eq!(
        t.http.as_ref().unwrap().body_bytes().unwrap(),
        (b"hi".to_vec(), Some("text/plain".to_owned()))
    );
    let t = target(serde_json::json!({"http": {"url": "http://x.test", "body_base64": "aGk="}}))
        .unwrap();
    assert_eq!(
        t.http.as_ref().unwrap().body_bytes().unwrap(),
        (b"hi".to_vec(), None),
        "a raw body without a type is sent without one"
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
