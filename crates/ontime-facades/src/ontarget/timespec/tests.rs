use super::*;

fn now() -> DateTime<Utc> {
    "2026-11-28T17:06:08.500Z".parse().unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn plan_utc(spec: &str) -> Result<Plan, String> {
    plan(spec, now(), Tz::UTC, &Limits::default())
}

/// The first occurrences of an accepted interval, from `now()` on.
fn occurrences(spec: &str, n: usize) -> Vec<DateTime<Utc>> {
    let plan = plan_utc(spec).unwrap();
    assert_eq!(plan.kind, Kind::Interval);
    let schedule = &plan.schedule;
    let mut at = schedule.first_due(now());
    let mut found = Vec::new();
    while let Some(t) = at {
        if found.len() == n {
            break;
        }
        found.push(t);
        at = schedule.next_after(now(), t);
    }
    found
}

#[test]
fn an_instant_in_the_future_fires_once_on_its_whole_second() {
    let soon = plan_utc("2026-11-28T17:06:09.900Z").unwrap();
    assert_eq!(soon.kind, Kind::Timestamp);
    assert_eq!(soon.schedule, Schedule::at(utc("2026-11-28T17:06:09Z")));
    let local = plan(
        "2026-12-01 10:00",
        now(),
        chrono_tz::Europe::Paris,
        &Limits::default(),
    );
    assert_eq!(
        local.unwrap().schedule,
        Schedule::at(utc("2026-12-01T09:00:00Z"))
    );
}

#[test]
fn the_originals_refusals_in_its_words() {
    let cases = [
        ("", "INTERVAL OR TIME REQUIRED"),
        (
            "2016-05-03T11:22:33Z",
            "Time specification is in the past: 2016-05-03T11:22:33Z",
        ),
        (
            "2026-11-28T17:06:08.500Z",
            "Time specification is in the past: 2026-11-28T17:06:08.500Z",
        ),
        (
            "R3/2016-05-03T11:22:33Z/P1D",
            "ISO-8601 interval specification's last recurrence is in the past: R3/2016-05-03T11:22:33Z/P1D",
        ),
        (
            "R/P1D/2016-05-03T11:22:33Z",
            "ISO-8601 interval specification's last recurrence is in the past: R/P1D/2016-05-03T11:22:33Z",
        ),
        (
            "R/garbage/P1D",
            "Invalid ISO-8601 interval specification: R/garbage/P1D",
        ),
        ("R", "Invalid ISO-8601 interval specification: R"),
        (
            "R/P1D/P1D",
            "Invalid ISO-8601 interval specification: R/P1D/P1D",
        ),
        ("Rx/P1D", "Invalid ISO-8601 interval specification: Rx/P1D"),
        ("R/PT0S", "Invalid ISO-8601 interval specification: R/PT0S"),
        ("R/P", "Invalid ISO-8601 interval specification: R/P"),
        (
            "R/2026-12-01T00:00:00Z/P1D/P1D",
            "Invalid ISO-8601 interval specification: R/2026-12-01T00:00:00Z/P1D/P1D",
        ),
        (
            "R/2026-12-02T00:00:00Z/2026-12-01T00:00:00Z",
            "Invalid ISO-8601 interval specification: R/2026-12-02T00:00:00Z/2026-12-01T00:00:00Z",
        ),
        ("garbage", "Invalid time specification: garbage"),
        ("P1D", "Invalid time specification: P1D"),
    ];
    for (spec, message) in cases {
        assert_eq!(plan_utc(spec), Err(message.to_owned()), "{spec:?}");
    }
}

#[test]
fn rn_means_n_plus_one_occurrences() {
    // Occurrences 0 to 3 of a start a day before now: the three to come fire.
    assert_eq!(
        occurrences("R3/2026-11-27T18:00:00Z/P1D", 10),
        vec![
            utc("2026-11-28T18:00:00Z"),
            utc("2026-11-29T18:00:00Z"),
            utc("2026-11-30T18:00:00Z"),
        ]
    );
    // Counted back from the end: R1 is the end and one period before it.
    assert_eq!(
        occurrences("R1/P1D/2026-12-05T00:00:00Z", 10),
        vec![utc("2026-12-04T00:00:00Z"), utc("2026-12-05T00:00:00Z")]
    );
    assert_eq!(
        occurrences("R0/2026-12-01T00:00:00Z/P1D", 10),
        vec![utc("2026-12-01T00:00:00Z")]
    );
}

#[test]
fn an_unbounded_interval_fires_from_now_on_and_skips_what_it_missed() {
    let plan = plan_utc("R/2016-05-03T11:22:33Z/P1D").unwrap();
    assert_eq!(plan.schedule.misfire, Some(Misfire::Skip));
    assert_eq!(
        occurrences("R/2016-05-03T11:22:33Z/P1D", 2),
        vec![utc("2026-11-29T11:22:33Z"), utc("2026-11-30T11:22:33Z")]
    );
    // Start and end: their span is the period, and the end does not bound it.
    assert_eq!(
        occurrences("R/2026-11-28T17:00:00Z/2026-11-28T17:10:00Z", 3),
        vec![
            utc("2026-11-28T17:10:00Z"),
            utc("2026-11-28T17:20:00Z"),
            utc("2026-11-28T17:30:00Z"),
        ]
    );
}

#[test]
fn the_other_spellings_of_an_interval() {
    assert_eq!(
        occurrences("R--2026-12-01T00:00:00Z--PT1H", 2),
        vec![utc("2026-12-01T00:00:00Z"), utc("2026-12-01T01:00:00Z")]
    );
    // A week date, and a local time on the zone's wall clock.
    let paris = plan(
        "R2/2026-W49-1T09:00/P1D",
        now(),
        chrono_tz::Europe::Paris,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        paris.schedule.iso.as_deref(),
        Some("R3/2026-11-30T08:00:00Z/P1D")
    );
    assert_eq!(paris.schedule.timezone.as_deref(), Some("Europe/Paris"));
}

#[test]
fn without_an_anchor_one_period_from_now_then_every_period() {
    assert_eq!(
        occurrences("R/PT1M", 2),
        vec![
            utc("2026-11-28T17:07:08.500Z"),
            utc("2026-11-28T17:08:08.500Z")
        ]
    );
    assert_eq!(occurrences("R1/PT1M", 10).len(), 2);
}

#[test]
fn a_period_under_the_operators_floor_is_refused() {
    let floor = Limits::with_min_interval(std::time::Duration::from_secs(60)).unwrap();
    let refused = plan("R/2026-12-01T00:00:00Z/PT30S", now(), Tz::UTC, &floor).unwrap_err();
    assert!(
        refused.ends_with(": R/2026-12-01T00:00:00Z/PT30S") && refused.contains("at least"),
        "{refused}"
    );
}

#[test]
fn a_timespec_too_long_to_keep_is_refused() {
    let long = format!("R/2026-12-01T00:00:00Z/P1D{}", "0".repeat(600));
    assert!(
        plan_utc(&long)
            .unwrap_err()
            .starts_with("Time specification is too long")
    );
}

proptest::proptest! {
    #[test]
    fn no_timespec_makes_it_panic(spec in "R[0-9]{0,3}(/|--)[0-9PWTYMDHSZ:+,. -]{0,20}((/|--)[0-9PWTYMDHSZ:+,. -]{0,20})?|\\PC{0,30}") {
        let _ = plan(&spec, now(), chrono_tz::Europe::Paris, &Limits::default());
    }
}
