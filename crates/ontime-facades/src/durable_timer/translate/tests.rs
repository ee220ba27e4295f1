use chrono::TimeZone;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 6, 1, 12, 0, 0).unwrap()
}

fn request(extra: Value) -> CreateTimerRequest {
    let mut doc = json!({
        "namespace": "shop", "id": "t1", "executeAt": "2027-06-01T12:00:05Z",
        "callbackUrl": "http://cb.test/hook", "payload": {"a": 1},
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    decode(doc.to_string().as_bytes()).unwrap()
}

#[test]
fn a_create_is_a_one_time_post_carrying_the_callback_body() {
    let (key, spec) = create(&request(json!({})), now(), &Limits::default()).unwrap();
    assert_eq!(key.to_string(), "shop/t1");
    assert_eq!(spec.schedule.at, Some(now() + chrono::Duration::seconds(5)));
    let http = spec.target.http.as_ref().unwrap();
    assert_eq!(http.method, "POST");
    assert_eq!(http.timeout().as_secs(), 30);
    assert_eq!(
        http.body.as_ref().unwrap(),
        &json!({"namespace": "shop", "id": "t1", "executeAt": "2027-06-01T12:00:05Z", "payload": {"a": 1}})
    );
    assert_eq!(spec.retry, RetryPolicy::default());
}

#[test]
fn retry_policies_map_field_by_field() {
    let policy = |p: Value| native_retry(&serde_json::from_value(p).unwrap());
    assert_eq!(
        policy(json!({"maxRetries": 3, "backoffMultiplier": 2.0, "initialInterval": "30s"}))
            .unwrap(),
        json!({"max_attempts": 4, "multiplier": 2.0, "initial_interval": "30s"})
    );
    assert_eq!(
        policy(json!({"maxAttempts": 2, "maxAttemptsDuration": "1h", "maxInterval": "5m"}))
            .unwrap(),
        json!({"max_attempts": 2, "max_duration": "1h", "max_interval": "5m"})
    );
    // A first wait longer than the default longest one raises the longest.
    assert_eq!(
        policy(json!({"initialInterval": "1h"})).unwrap(),
        json!({"initial_interval": "1h", "max_interval": "1h"})
    );
    let field = |p: Value| policy(p).unwrap_err().field;
    assert_eq!(
        field(json!({"maxAttempts": 3, "maxRetries": 3})).as_deref(),
        Some("retryPolicy.maxRetries")
    );
    assert_eq!(
        field(json!({"maxAttempts": 0})).as_deref(),
        Some("retryPolicy.maxAttempts")
    );
    assert_eq!(
        field(json!({"initialInterval": "soon"})).as_deref(),
        Some("retryPolicy.initialInterval")
    );
    assert_eq!(
        field(json!({"backoffMultiplier": 0.5})).as_deref(),
        Some("retryPolicy.backoffMultiplier")
    );
}

#[test]
fn bad_requests_name_the_field() {
    let refused = |extra: Value| create(&request(extra), now(), &Limits::default()).unwrap_err();
    assert_eq!(
        refused(json!({"executeAt": "2027-06-01T11:59:59Z"}))
            .field
            .as_deref(),
        Some("executeAt")
    );
    assert_eq!(
        refused(json!({"callbackUrl": "ftp://x"})).field.as_deref(),
        Some("callbackUrl")
    );
    assert_eq!(refused(json!({"id": "a b"})).field.as_deref(), Some("id"));
    assert_eq!(
        refused(json!({"namespace": ""})).field.as_deref(),
        Some("namespace")
    );
    assert_eq!(
        refused(json!({"callbackTimeoutSeconds": 0}))
            .field
            .as_deref(),
        Some("callbackTimeoutSeconds")
    );
    let decoded = |doc: &str| {
        decode::<CreateTimerRequest>(doc.as_bytes())
            .unwrap_err()
            .field
    };
    assert_eq!(
        decoded(r#"{"namespace": "n", "id": "i", "callbackUrl": "http://x.test/"}"#).as_deref(),
        Some("executeAt")
    );
    assert_eq!(decoded(r#"{"namespace": 1}"#).as_deref(), Some("namespace"));
    assert_eq!(decoded("not json"), None);
}

#[test]
fn the_view_shows_the_native_timer_in_the_documents_terms() {
    let (key, spec) = create(
        &request(json!({"retryPolicy": {"maxAttempts": 3}, "callbackTimeoutSeconds": 5})),
        now(),
        &Limits::default(),
    )
    .unwrap();
    let shown = timer(Snapshot::defined(&key, &spec, now(), now()));
    assert_eq!(
        serde_json::to_value(shown).unwrap(),
        json!({
            "id": "t1", "namespace": "shop", "executeAt": "2027-06-01T12:00:05Z",
            "callbackUrl": "http://cb.test/hook", "payload": {"a": 1},
            "retryPolicy": {"maxAttempts": 3, "initialInterval": "1s", "backoffMultiplier": 2.0, "maxInterval": "10m"},
            "callbackTimeoutSeconds": 5,
            "createdAt": "2027-06-01T12:00:00Z", "updatedAt": "2027-06-01T12:00:00Z",
        })
    );
}
