//! Every instant ontime computes stays within [`LATEST`], whatever the input: validation,
//! the schedule math and the state machine never panic on a huge instant or duration, and
//! the interval floor holds.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use serde_json::json;

use crate::command::{Command, CommandBody};
use crate::id::TimerKey;
use crate::limits::{LATEST, Limits};
use crate::schedule::Schedule;
use crate::state::{Applied, apply, fire, pending_wake};
use crate::timer::TimerSpec;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn schedule(doc: serde_json::Value) -> Schedule {
    serde_json::from_value(doc).unwrap()
}

fn field_of(doc: serde_json::Value) -> Option<String> {
    schedule(doc).validate().unwrap_err().field
}

#[test]
fn instants_and_durations_past_the_latest_are_refused_with_their_field() {
    let huge = "100000000000h";
    assert_eq!(field_of(json!({"after": huge})).as_deref(), Some("after"));
    assert_eq!(field_of(json!({"every": huge})).as_deref(), Some("every"));
    assert_eq!(
        field_of(json!({"after": "1s", "max_lateness": huge})).as_deref(),
        Some("max_lateness")
    );
    // Within the span from the epoch, but landing past 9999 from the anchor: refused when
    // the anchor is known (the scheduler's definition, the preview).
    let s = schedule(json!({"after": "70000000h"}));
    s.validate().unwrap();
    let e = s.first_due_checked(t("2026-01-01T00:00:00Z")).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("after"));
    // `every: 1000000000h` used to answer next_fire_at +116106-05-15: now refused.
    assert_eq!(
        field_of(json!({"every": "1000000000h"})).as_deref(),
        Some("every")
    );
    // An every that fits but whose first occurrence would not: no occurrence.
    let s = schedule(json!({"every": "70000000h"}));
    s.validate().unwrap();
    assert_eq!(s.first_due(t("2026-01-01T00:00:00Z")), None);
    assert!(s.first_due_checked(t("2026-01-01T00:00:00Z")).is_err());
}

#[test]
fn intervals_have_a_floor_the_operator_sets() {
    assert_eq!(field_of(json!({"every": "1ns"})).as_deref(), Some("every"));
    assert_eq!(
        field_of(json!({"every": "999ms"})).as_deref(),
        Some("every")
    );
    schedule(json!({"every": "1s"})).validate().unwrap();
    assert_eq!(
        field_of(json!({"iso": "R/2026-01-01T00:00:00Z/PT0.5S"})).as_deref(),
        Some("iso")
    );
    assert_eq!(
        field_of(json!({"iso": "R5/2026-01-01T00:00:00Z/2026-01-01T00:00:00.1Z"})).as_deref(),
        Some("iso")
    );
    // One occurrence has no period to speak of; months are never short.
    schedule(json!({"iso": "R1/2026-01-01T00:00:00Z/PT0.001S"}))
        .validate()
        .unwrap();
    schedule(json!({"iso": "R/2026-01-01T00:00:00Z/P1M"}))
        .validate()
        .unwrap();
    // A lower floor, set by the operator, admits shorter intervals; never below 1 ms.
    let fast = Limits::with_min_interval(Duration::from_millis(100)).unwrap();
    schedule(json!({"every": "100ms"}))
        .validate_with(&fast)
        .unwrap();
    assert!(
        schedule(json!({"every": "99ms"}))
            .validate_with(&fast)
            .is_err()
    );
    // The wire decoder applies the same limits.
    let cmd = json!({"v": 1, "kind": "upsert", "namespace": "ns", "id": "a",
        "spec": {"schedule": {"every": "100ms"}, "target": {"http": {"url": "http://x.test/"}}}});
    let bytes = cmd.to_string().into_bytes();
    assert_eq!(
        Command::decode(&bytes).unwrap_err().field.as_deref(),
        Some("spec.schedule.every")
    );
    assert!(Command::decode_with(&bytes, &fast).is_ok());
}

/// A duration anywhere from a nanosecond to far beyond the calendar.
fn any_duration() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u64..5000).prop_map(|n| format!("{n}ms")),
        (1u64..100_000).prop_map(|n| format!("{n}s")),
        (1u64..u64::MAX / 4).prop_map(|n| format!("{n}h")),
        (1u64..1_000_000).prop_map(|n| format!("{n}ns")),
        Just("100000000000h".to_owned()),
        Just("1000000000h".to_owned()),
    ]
}

/// An instant anywhere in chrono's four-digit years, the last ones included.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (0i64..253_402_300_799_999).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap()),
        (0i64..10_000_000).prop_map(|ms| LATEST - TimeDelta::milliseconds(ms)),
        (1_700_000_000_000i64..1_900_000_000_000)
            .prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap()),
    ]
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn any_schedule() -> impl Strategy<Value = serde_json::Value> {
    let misfire = prop_oneof![Just("fire_once"), Just("skip"), Just("fire_all")];
    prop_oneof![
        any_instant().prop_map(|at| json!({"at": rfc3339(at)})),
        any_duration().prop_map(|d| json!({"after": d})),
        (any_duration(), proptest::option::of(any_instant()), misfire.clone())
            .prop_map(|(d, start, m)| match start {
                Some(s) => json!({"every": d, "start_at": rfc3339(s), "misfire": m}),
                None => json!({"every": d, "misfire": m}),
            }),
        (any_instant(), any_duration(), 0u64..5)
            .prop_map(|(start, d, n)| {
                let count = if n == 0 { String::new() } else { n.to_string() };
                json!({"iso": format!("R{count}/{}/PT{}", rfc3339(start), d.trim_end_matches(char::is_alphabetic).to_owned() + "S")})
            }),
        (any_instant(), prop_oneof![Just("P1M"), Just("P100Y"), Just("P1D"), Just("P1000Y")])
            .prop_map(|(end, p)| json!({"iso": format!("R/{p}/{}", rfc3339(end))})),
        (prop_oneof![Just("0 0 0 29 2 *"), Just("* * * * * *"), Just("@yearly")], misfire)
            .prop_map(|(c, m)| json!({"cron": c, "misfire": m})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_input_panics_or_leaves_the_calendar(
        doc in any_schedule(),
        anchor in any_instant(),
        late in prop_oneof![0i64..10_000, 0i64..10_000_000_000],
    ) {
        let Ok(s) = serde_json::from_value::<Schedule>(doc) else { return Ok(()) };
        if s.validate().is_err() {
            return Ok(());
        }
        let Some(first) = s.first_due(anchor) else {
            prop_assert!(s.first_due_checked(anchor).is_err());
            return Ok(());
        };
        prop_assert!(first <= LATEST);
        for next in s.upcoming(anchor, first, 5) {
            prop_assert!(next <= LATEST);
        }
        prop_assert!(s.next_after(anchor, LATEST).is_none());
        // The state machine, defined at `anchor` and fired late (or at the end of time).
        let spec: TimerSpec = serde_json::from_value(json!({
            "schedule": s, "target": {"http": {"url": "http://x.test/"}}
        })).unwrap();
        let key = TimerKey::from_subject_suffix("ns.p").unwrap();
        let cmd = Command::new(key, CommandBody::upsert(spec));
        let Ok(Applied::Changed(o)) = apply(None, &cmd, 1, anchor, anchor) else {
            prop_assert!(false, "a valid schedule with a first occurrence is defined");
            return Ok(());
        };
        let mut record = o.record;
        for _ in 0..3 {
            let Some(wake) = pending_wake(&record) else { break };
            let now = wake
                .due_at
                .checked_add_signed(TimeDelta::milliseconds(late))
                .unwrap_or(LATEST)
                .min(LATEST);
            let Some(fired) = fire(&record, &wake, now) else { break };
            for f in &fired.fires {
                prop_assert!(f.due_at <= LATEST);
            }
            prop_assert!(fired.record.next_fire_at.is_none_or(|at| at <= LATEST));
            record = fired.record;
        }
    }
}
