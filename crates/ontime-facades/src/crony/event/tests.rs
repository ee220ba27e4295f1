use ontime_core::command::{Command, CommandBody};
use ontime_core::id::Namespace;
use ontime_core::state::Applied;

use super::*;

fn service() -> Service {
    Service {
        name: "crony",
        namespace: Namespace::parse("crony").unwrap(),
        timezone: Tz::Europe__Paris,
        first_id: 1,
    }
}

fn input(doc: serde_json::Value) -> EventIn {
    serde_json::from_value(doc).unwrap()
}

fn created(doc: serde_json::Value) -> Result<Definition, String> {
    definition(&input(doc), None, Change::Create)
}

#[test]
fn a_create_takes_the_defaults_and_requires_url_and_expression() {
    let d = created(json!({"url": "http://h/cb", "expression": "*/5 * * * * *"})).unwrap();
    assert_eq!(
        d,
        Definition {
            url: "http://h/cb".into(),
            expression: "*/5 * * * * *".into(),
            active: true,
            retries: DEFAULT_RETRIES,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
        }
    );
    assert_eq!(created(json!({})).unwrap_err(), "field url is mandatory");
    assert_eq!(
        created(json!({"url": "http://h/cb", "expression": " "})).unwrap_err(),
        "field expression is mandatory"
    );
}

#[test]
fn the_fields_are_checked_as_the_document_says() {
    let base = json!({"url": "http://h/cb", "expression": "0 5 * * * *"});
    let with = |field: &str, value: serde_json::Value| {
        let mut doc = base.clone();
        doc[field] = value;
        created(doc)
    };
    assert_eq!(
        with("status", json!("paused")).unwrap_err(),
        "field status must be active or inactive"
    );
    assert!(!with("status", json!("incative")).unwrap().active);
    for bad in [-1, 11] {
        assert_eq!(
            with("retries", json!(bad)).unwrap_err(),
            "field retries must be between 0 and 10"
        );
        assert_eq!(
            with("max_retries", json!(bad)).unwrap_err(),
            "field max_retries must be between 0 and 10"
        );
    }
    assert_eq!(with("max_retries", json!(0)).unwrap().retries, 0);
    let mut both = base.clone();
    both["max_retries"] = json!(2);
    both["retries"] = json!(3);
    assert!(created(both).is_err());
    assert!(with("retry_timeout", json!(901)).is_err());
    assert!(with("retry_timeout", json!(-3)).is_err());
    assert_eq!(with("retry_timeout", json!(3)).unwrap().retry_timeout, 3);
    assert_eq!(
        with("retry_timeout", json!(0)).unwrap().retry_timeout,
        DEFAULT_RETRY_TIMEOUT
    );
}

#[test]
fn a_retry_timeout_is_seconds_or_a_go_duration_in_nanoseconds() {
    assert_eq!(retry_timeout_secs(3), Ok(3));
    assert_eq!(retry_timeout_secs(1_000_000_000), Ok(1));
    assert_eq!(retry_timeout_secs(1_500_000_000), Ok(2));
    assert_eq!(retry_timeout_secs(3_000_000), Ok(1));
    assert!(retry_timeout_secs(999_999).is_err());
    assert!(retry_timeout_secs(901_000_000_000).is_err());
}

#[test]
fn a_merge_keeps_what_it_does_not_give_and_a_replace_resets_it() {
    let current = Definition {
        url: "http://h/cb".into(),
        expression: "0 5 * * * *".into(),
        active: false,
        retries: 4,
        retry_timeout: 7,
    };
    let patch = input(json!({"expression": "0 2 * * * *"}));
    let merged = definition(&patch, Some(&current), Change::Merge).unwrap();
    assert_eq!(
        merged,
        Definition {
            expression: "0 2 * * * *".into(),
            ..current.clone()
        }
    );
    assert_eq!(
        definition(&patch, Some(&current), Change::Replace).unwrap_err(),
        "field url is mandatory"
    );
    let put = input(json!({"url": "http://h/2", "expression": "0 2 * * * *"}));
    let replaced = definition(&put, Some(&current), Change::Replace).unwrap();
    assert!(replaced.active);
    assert_eq!(replaced.retries, DEFAULT_RETRIES);
}

#[test]
fn an_event_is_a_get_with_its_retries_spaced_by_retry_timeout() {
    let d = created(json!({"url": "http://h/cb?a=1", "expression": "0 5 * * *",
                           "max_retries": 2, "retry_timeout": 3}))
    .unwrap();
    let spec = spec(&service(), &d, &Limits::default()).unwrap();
    let doc = serde_json::to_value(&spec).unwrap();
    assert_eq!(doc["schedule"]["cron"], "0 5 * * * *");
    assert_eq!(doc["schedule"]["timezone"], "Europe/Paris");
    assert_eq!(doc["target"]["http"]["url"], "http://h/cb?a=1");
    assert_eq!(doc["target"]["http"]["method"], "GET");
    assert_eq!(doc["target"]["http"]["answer"], "status");
    assert!(doc["target"]["http"].get("body").is_none());
    assert_eq!(doc["retry"]["max_attempts"], 3);
    assert_eq!(doc["retry"]["multiplier"], 1.0);
    assert_eq!(doc["metadata"]["crony.expression"], "0 5 * * *");
    assert_eq!(doc["metadata"]["facade"], "crony");
    assert_eq!(spec.target.http.as_ref().unwrap().timeout().as_secs(), 3);
    assert_eq!(spec.retry.initial_interval.get().as_secs(), 3);
}

#[test]
fn what_the_native_model_refuses_is_said_in_cronys_words() {
    let bad_url = created(json!({"url": "ftp://h/cb", "expression": "* * * * * *"})).unwrap();
    let why = spec(&service(), &bad_url, &Limits::default()).unwrap_err();
    assert!(why.starts_with("field url: "), "{why}");
    let bad_cron = created(json!({"url": "http://h/cb", "expression": "61 * * * * *"})).unwrap();
    let why = spec(&service(), &bad_cron, &Limits::default()).unwrap_err();
    assert!(
        why.starts_with("the expression must be crontab format: "),
        "{why}"
    );
}

#[test]
fn a_stored_timer_reads_back_as_the_event_it_was_made_from() {
    let d = created(json!({"url": "http://h/cb", "expression": "@every 90s",
                           "status": "inactive", "retries": 0, "retry_timeout": 2_000_000_000_i64}))
    .unwrap();
    let spec = spec(&service(), &d, &Limits::default()).unwrap();
    let now = Utc::now();
    let create = Command::new(
        service().key_of(7),
        CommandBody::Upsert { spec, paused: true },
    );
    let record = match ontime_core::state::apply(None, &create, 1, now, now).unwrap() {
        Applied::Changed(outcome) => outcome.record,
        Applied::Unchanged => panic!("a create changes something"),
    };
    assert_eq!(record.status, TimerStatus::Paused);
    assert_eq!(stored(&Stored::from(&record)), Some(d.clone()));
    let shown = event(7, &d, now, now, Tz::UTC);
    assert_eq!(shown.status, "inactive");
    assert_eq!(shown.retry_timeout, 2_000_000_000);
    assert!(shown.created_at.ends_with('Z'));
}
