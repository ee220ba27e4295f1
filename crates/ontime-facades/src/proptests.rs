//! No request body makes a facade panic, and every job a facade accepts reads back from its
//! native timer as it was defined: Crony's and CronHubot's translation, fed arbitrary JSON
//! objects of the fields they know (and wrong types, and unknown fields).

use chrono::Utc;
use ontime_core::Limits;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::cron_service::{Change, Jobs, Service, Stored, decode};
use crate::cronhubot::CronHubot;
use crate::crony::Crony;

fn service(name: &'static str) -> Service {
    Service {
        name,
        namespace: ontime_core::id::Namespace::parse(name).unwrap(),
        timezone: chrono_tz::Tz::America__New_York,
        first_id: 1000,
    }
}

/// Cron-ish text: fields and descriptors, good and bad, in any number.
fn expression() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "*", "*/5", "0", "59", "60", "1-5", "5-1", "MON-FRI", "JAN", "?", "L", "@every", "@daily",
        "@hourly", "1h30m", "300ms", "-1s", "", "x",
    ]);
    prop::collection::vec(token, 0..8).prop_map(|t| t.join(" "))
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..1_000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        expression().prop_map(Value::from),
        prop::sample::select(vec![
            "http://h.test/cb",
            "https://h.test/cb?a=1&__cronId=3#f",
            "ftp://h.test/",
            "",
            "active",
            "inactive",
            "incative",
            "2030-01-01 00:00:00",
            "2000-01-01 00:00:00",
            "0000-00-00 00:00:00",
            "2030-02-30 00:00:00",
            "2027-03-14 02:30:00",
        ])
        .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "url",
        "expression",
        "status",
        "max_retries",
        "retries",
        "retry_timeout",
        "name",
        "request_timeout",
        "stop_at",
        "group_id",
        "id",
        "other",
    ]);
    // Half of the objects start from a job both services accept, so that most changes of a
    // field or two reach the native definition.
    let object = (
        any::<bool>(),
        prop::collection::vec((names, value()), 0..10),
    )
        .prop_map(|(valid, fields)| {
            let mut object = Map::new();
            if valid {
                object.insert("url".into(), json!("http://h.test/cb"));
                object.insert("expression".into(), json!("*/5 * * * * *"));
            }
            object.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
            serde_json::to_vec(&object).unwrap()
        });
    prop_oneof![8 => object, 1 => prop::collection::vec(any::<u8>(), 0..64)]
}

/// Drives `jobs` through every kind of change with `body`.
fn exercise<J: Jobs>(jobs: &J, body: &[u8]) {
    let now = Utc::now();
    let Some(input) = decode::<J::In>(body) else {
        return;
    };
    let mut current = None;
    for change in [Change::Create, Change::Merge, Change::Replace] {
        let Ok(job) = jobs.definition(&input, current.as_ref(), change, now) else {
            continue;
        };
        let Ok(spec) = jobs.spec(1000, &job, &Limits::default()) else {
            continue;
        };
        let timer = Stored::defined(&spec, !jobs.active(&job), now, now);
        let back = jobs
            .stored(1000, &timer)
            .expect("an accepted job reads back from its timer");
        let _ = serde_json::to_string(&jobs.show(1000, &back, &timer)).unwrap();
        current = Some(back);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_body_makes_crony_panic(body in body()) {
        exercise(&Crony(service("crony")), &body);
    }

    #[test]
    fn no_body_makes_cronhubot_panic(body in body()) {
        exercise(&CronHubot(service("cronhubot")), &body);
    }
}

#[test]
fn an_accepted_job_reads_back_as_it_was_defined() {
    let now = Utc::now();
    let crony = Crony(service("crony"));
    let input = decode(
        br#"{"url": "http://h.test/a", "expression": "@every 90s",
        "status": "inactive", "max_retries": 3, "retry_timeout": 7}"#,
    )
    .unwrap();
    let job = crony.definition(&input, None, Change::Create, now).unwrap();
    let spec = crony.spec(1, &job, &Limits::default()).unwrap();
    let timer = Stored::defined(&spec, true, now, now);
    assert_eq!(crony.stored(1, &timer), Some(job));

    let hubot = CronHubot(service("cronhubot"));
    let input = decode(
        br#"{"name": "n", "url": "http://h.test/a?b=1", "expression": "0 0 2 * * MON",
        "status": 99, "retries": 2, "request_timeout": 9, "stop_at": "2030-01-01 00:00:00",
        "group_id": 4}"#,
    )
    .unwrap();
    let job = hubot.definition(&input, None, Change::Create, now).unwrap();
    let spec = hubot.spec(1000, &job, &Limits::default()).unwrap();
    let timer = Stored::defined(&spec, true, now, now);
    assert_eq!(hubot.stored(1000, &timer), Some(job));
}
