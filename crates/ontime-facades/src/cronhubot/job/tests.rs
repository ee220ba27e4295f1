use chrono::Duration;
use ontime_core::id::Namespace;

use super::*;

fn service() -> Service {
    Service {
        name: "cronhubot",
        namespace: Namespace::parse("cronhubot").unwrap(),
        timezone: Tz::Asia__Shanghai,
        first_id: 1000,
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-28T12:00:00Z".parse().unwrap()
}

fn input(doc: serde_json::Value) -> CronJobIn {
    serde_json::from_value(doc).unwrap()
}

fn created(doc: serde_json::Value) -> Result<Definition, String> {
    definition(&input(doc), None, Change::Create, now(), service().timezone)
}

#[test]
fn a_create_takes_the_originals_defaults() {
    let d =
        created(json!({"name": "j", "url": "http://h/cb", "expression": "*/2 * * * * *"})).unwrap();
    assert_eq!(
        d,
        Definition {
            name: "j".into(),
            url: "http://h/cb".into(),
            expression: "*/2 * * * * *".into(),
            active: true,
            retries: 0,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            stop_at: None,
            group_id: 0,
        }
    );
}

#[test]
fn the_fields_are_checked_with_the_originals_messages() {
    let base = json!({"url": "http://h/cb", "expression": "0 5 * * * *"});
    let with = |field: &str, value: serde_json::Value| {
        let mut doc = base.clone();
        doc[field] = value;
        created(doc)
    };
    assert_eq!(created(json!({})).unwrap_err(), "url is empty");
    for bad in ["* * * * *", "@every 1s", "0  5 * * * *", "0 5 * * * * *"] {
        assert_eq!(
            with("expression", json!(bad)).unwrap_err(),
            BAD_EXPRESSION,
            "{bad}"
        );
    }
    assert_eq!(
        with("status", json!(0)).unwrap_err(),
        "status must be 1, 9 or 99"
    );
    assert!(!with("status", json!(9)).unwrap().active);
    assert!(!with("status", json!(99)).unwrap().active);
    assert_eq!(
        with("retries", json!(11)).unwrap_err(),
        "field retries must be between 0 and 10"
    );
    assert_eq!(
        with("request_timeout", json!(0)).unwrap().request_timeout,
        3
    );
    assert!(with("request_timeout", json!(901)).is_err());
    assert_eq!(
        with("stop_at", json!("2000-01-01 00:00:00")).unwrap_err(),
        "stop_at before now"
    );
}

#[test]
fn stop_at_is_read_on_the_facades_clock_and_its_none_forms_are_accepted() {
    let d = created(json!({"url": "http://h/cb", "expression": "0 5 * * * *",
                           "stop_at": "2026-11-29 08:00:00"}))
    .unwrap();
    // 08:00 in Shanghai is midnight UTC.
    assert_eq!(d.stop_at, Some("2026-11-29T00:00:00Z".parse().unwrap()));
    for none in ["", NO_TIME, "1999-01-01 00:00:00"] {
        let d = created(json!({"url": "http://h/cb", "expression": "0 5 * * * *",
                               "stop_at": none}))
        .unwrap();
        assert_eq!(d.stop_at, None, "{none}");
    }
    for bad in ["2030-01-01T00:00:00Z", "2030-1-1 0:0:0", "soon"] {
        let doc = json!({"stop_at": bad});
        assert!(serde_json::from_value::<CronJobIn>(doc).is_err(), "{bad}");
    }
}

#[test]
fn the_callback_url_carries_the_job_id_and_reads_back_without_it() {
    for (url, called) in [
        ("http://h/cb", "http://h/cb?__cronId=1000"),
        ("http://h/cb?b=2&a=1", "http://h/cb?b=2&a=1&__cronId=1000"),
        (
            "http://h/cb?__cronId=7&a=1",
            "http://h/cb?a=1&__cronId=1000",
        ),
        ("http://h/cb?a=1#top", "http://h/cb?a=1&__cronId=1000#top"),
    ] {
        assert_eq!(with_cron_id(url, 1000), called);
    }
    assert_eq!(
        without_cron_id("http://h/cb?b=2&a=1&__cronId=1000", 1000),
        "http://h/cb?b=2&a=1"
    );
    assert_eq!(
        without_cron_id("http://h/cb?__cronId=1000#top", 1000),
        "http://h/cb#top"
    );
}

#[test]
fn a_job_is_a_get_that_its_answer_may_stop() {
    let d = created(
        json!({"name": "nightly", "url": "http://h/cb?x=1", "expression": "0 0 2 * * *",
                           "retries": 2, "request_timeout": 5, "group_id": 4,
                           "stop_at": "2027-01-01 00:00:00"}),
    )
    .unwrap();
    let spec = spec(&service(), 1003, &d, &Limits::default()).unwrap();
    let doc = serde_json::to_value(&spec).unwrap();
    assert_eq!(doc["schedule"]["cron"], "0 0 2 * * *");
    assert_eq!(doc["schedule"]["timezone"], "Asia/Shanghai");
    assert_eq!(doc["schedule"]["end_at"], "2026-12-31T16:00:00Z");
    assert_eq!(
        doc["target"]["http"]["url"],
        "http://h/cb?x=1&__cronId=1003"
    );
    assert_eq!(doc["target"]["http"]["method"], "GET");
    // Steered by its answer, the native default.
    assert!(doc["target"]["http"].get("answer").is_none());
    assert_eq!(doc["retry"]["max_attempts"], 3);
    assert_eq!(doc["metadata"]["cronhubot.name"], "nightly");
    assert_eq!(doc["metadata"]["cronhubot.group_id"], "4");

    let timer = Stored::defined(&spec, false, now(), now());
    let back = stored(1003, &timer).unwrap();
    assert_eq!(back, d);
    let shown = cron_job(1003, &back, &timer, service().timezone);
    assert_eq!(shown.url, "http://h/cb?x=1");
    assert_eq!(shown.stop_at, "2027-01-01 00:00:00");
    assert_eq!(shown.created_at, "2026-11-28 20:00:00");
    assert_eq!(shown.status, 1);
    let paused = Stored::defined(&spec, true, now(), now() + Duration::seconds(1));
    let inactive = stored(1003, &paused).unwrap();
    assert!(!inactive.active);
    assert_eq!(
        cron_job(1003, &inactive, &paused, service().timezone).status,
        99
    );
}

#[test]
fn a_bad_expression_is_refused_with_the_parsers_reason() {
    let d = created(json!({"url": "http://h/cb", "expression": "60 * * * * *"})).unwrap();
    let why = spec(&service(), 1000, &d, &Limits::default()).unwrap_err();
    assert_ne!(why, BAD_EXPRESSION);
    assert!(why.contains("60"), "{why}");
}
