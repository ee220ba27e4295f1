//! Unit tests of ISO 8601 repeating intervals: the three forms with bounded and unbounded
//! counts, daylight saving, far-away queries and every refusal.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Paris;
use chrono_tz::Tz;

use super::IsoRepeat;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn iso(s: &str, tz: Tz) -> IsoRepeat {
    IsoRepeat::parse(s, tz).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn start_and_duration_bounded_and_unbounded() {
    let r = iso("R5/2024-01-31T10:00:00Z/P1M", Tz::UTC);
    assert_eq!(r.count(), Some(5));
    let all: Vec<_> = (0..6).map(|k| r.nth(k)).collect();
    let want = [
        "2024-01-31T10:00:00Z",
        "2024-02-29T10:00:00Z",
        "2024-03-31T10:00:00Z",
        "2024-04-30T10:00:00Z",
        "2024-05-31T10:00:00Z",
    ];
    assert_eq!(
        all[..5].iter().map(|t| t.unwrap()).collect::<Vec<_>>(),
        want.map(utc)
    );
    assert_eq!(all[5], None);
    assert_eq!(
        r.next_after(utc("2020-01-01T00:00:00Z")),
        Some((0, utc(want[0])))
    );
    assert_eq!(r.next_after(utc(want[0])), Some((1, utc(want[1]))));
    assert_eq!(
        r.next_after(utc("2024-04-30T10:00:00.001Z")),
        Some((4, utc(want[4])))
    );
    assert_eq!(r.next_after(utc(want[4])), None);

    // Unbounded, with a local start read in the timer's zone (09:22:33 UTC in May).
    let r = iso("R/2016-05-03T11:22:33/PT10M", Paris);
    assert_eq!(r.count(), None);
    assert_eq!(r.nth(0), Some(utc("2016-05-03T09:22:33Z")));
    assert_eq!(
        r.next_after(utc("2026-01-01T00:00:00Z")),
        Some((508_264, utc("2026-01-01T00:02:33Z")))
    );
    assert_eq!(
        iso("R1/2024-01-01T00:00:00Z/P1D", Tz::UTC).next_after(utc("2024-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn start_and_duration_keep_the_wall_clock_across_daylight_saving() {
    let r = iso("R/2024-03-29T02:30:00/P1D", Paris);
    let got: Vec<_> = (0..4).map(|k| r.nth(k).unwrap()).collect();
    // 02:30 does not exist on the 31st: 03:30 CEST; the next day is 02:30 CEST again.
    assert_eq!(
        got,
        [
            "2024-03-29T01:30:00Z",
            "2024-03-30T01:30:00Z",
            "2024-03-31T01:30:00Z",
            "2024-04-01T00:30:00Z"
        ]
        .map(utc)
    );
    assert_eq!(
        r.next_after(utc("2024-03-31T01:00:00Z")),
        Some((2, utc("2024-03-31T01:30:00Z")))
    );
}

#[test]
fn duration_and_end_count_back_from_the_end() {
    let r = iso("R3/PT1H/2024-01-01T12:00:00Z", Tz::UTC);
    assert_eq!(
        (0..4).map(|k| r.nth(k)).collect::<Vec<_>>(),
        [
            Some(utc("2024-01-01T10:00:00Z")),
            Some(utc("2024-01-01T11:00:00Z")),
            Some(utc("2024-01-01T12:00:00Z")),
            None
        ]
    );
    assert_eq!(
        r.next_after(utc("2023-06-01T00:00:00Z")),
        Some((0, utc("2024-01-01T10:00:00Z")))
    );
    assert_eq!(
        r.next_after(utc("2024-01-01T10:30:00Z")),
        Some((1, utc("2024-01-01T11:00:00Z")))
    );
    assert_eq!(
        r.next_after(utc("2024-01-01T11:00:00Z")),
        Some((2, utc("2024-01-01T12:00:00Z")))
    );
    assert_eq!(r.next_after(utc("2024-01-01T12:00:00Z")), None);

    // Calendar steps back from a month end: Jan 31, Feb 29, Mar 31.
    let r = iso("R3/P1M/2024-03-31T00:00:00Z", Tz::UTC);
    assert_eq!(
        (0..3).map(|k| r.nth(k).unwrap()).collect::<Vec<_>>(),
        [
            "2024-01-31T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2024-03-31T00:00:00Z"
        ]
        .map(utc)
    );

    // Unbounded: numbered backwards from the end, which is occurrence 0.
    let r = iso("R/PT1H/2024-01-01T12:00:00Z", Tz::UTC);
    assert_eq!(r.nth(0), Some(utc("2024-01-01T12:00:00Z")));
    assert_eq!(
        r.next_after(utc("2023-12-31T00:00:00Z")),
        Some((35, utc("2023-12-31T01:00:00Z")))
    );
    assert_eq!(
        r.next_after(utc("2024-01-01T11:59:59Z")),
        Some((0, utc("2024-01-01T12:00:00Z")))
    );
    assert_eq!(r.next_after(utc("2024-01-01T12:00:00Z")), None);
}

#[test]
fn start_and_end_repeat_their_span() {
    let r = iso("R2/2024-01-01T00:00:00Z/2024-01-01T06:00:00+01:00", Tz::UTC);
    assert_eq!(
        (0..3).map(|k| r.nth(k)).collect::<Vec<_>>(),
        [
            Some(utc("2024-01-01T00:00:00Z")),
            Some(utc("2024-01-01T05:00:00Z")),
            None
        ]
    );
    let r = iso("r/2024-01-01T00:00:00Z/2024-01-01T00:00:01.5Z", Tz::UTC);
    assert_eq!(
        r.next_after(utc("2024-01-01T00:00:02Z")),
        Some((2, utc("2024-01-01T00:00:03Z")))
    );
    assert_eq!(
        r.to_string(),
        "r/2024-01-01T00:00:00Z/2024-01-01T00:00:01.5Z"
    );
}

#[test]
fn repeat_refusals_say_what_and_where() {
    let refusal = |s: &str| IsoRepeat::parse(s, Tz::UTC).unwrap_err().to_string();
    let forms = "R[n]/<start>/<duration>, R[n]/<duration>/<end> or R[n]/<start>/<end>";
    assert_eq!(
        refusal(" "),
        format!("iso8601: empty repeating interval (write {forms})")
    );
    assert_eq!(
        refusal("R5/PT1H"),
        format!("iso8601: expected 3 parts separated by '/' ({forms}), got 2")
    );
    assert_eq!(
        refusal("X5/2024-01-01T00:00:00Z/P1D"),
        format!(
            "iso8601: a repeating interval starts with R or R<n> ({forms}), not \"X5\" at position 0"
        )
    );
    assert_eq!(
        refusal("R0/2024-01-01T00:00:00Z/P1D"),
        "iso8601: R0 has no occurrence; write R1 for a single one, or R for no limit at position 0"
    );
    assert_eq!(
        refusal("Rx/2024-01-01T00:00:00Z/P1D"),
        "iso8601: repetition count \"x\" is not a number at position 0"
    );
    assert_eq!(
        refusal("R99999999999999999999999/2024-01-01T00:00:00Z/P1D"),
        "iso8601: repetition count 99999999999999999999999 is too large at position 0"
    );
    assert_eq!(
        refusal("R/P1D/P1D"),
        format!("iso8601: two durations: one side must be an instant ({forms}) at position 6")
    );
    assert_eq!(
        refusal("R/2024-01-02T00:00:00Z/2024-01-01T00:00:00Z"),
        "iso8601: end 2024-01-01T00:00:00Z must be after start 2024-01-02T00:00:00Z at position 23"
    );
    assert_eq!(
        refusal("R/2024-01-01T00:00:00Z/PT0S"),
        "iso8601: the duration must not be zero: occurrences would all fall at the same instant at position 23"
    );
    let bad_start = IsoRepeat::parse("R/2024-13-01T00:00:00Z/P1D", Tz::UTC).unwrap_err();
    assert_eq!(
        (bad_start.position, bad_start.field),
        (Some(2), Some("start"))
    );
    assert!(
        bad_start
            .message
            .contains("invalid date-time \"2024-13-01T00:00:00Z\""),
        "{bad_start}"
    );
    assert_eq!(
        refusal("R/2024-01-01T00:00:00Z/P1X"),
        "iso8601: unknown designator 'X' (before 'T': Y, M, W, D; put hours, minutes and seconds after 'T') at position 25"
    );
    let bad_end = IsoRepeat::parse("R/PT1H/tomorrow", Tz::UTC).unwrap_err();
    assert_eq!((bad_end.position, bad_end.field), (Some(7), Some("end")));
}

#[test]
fn far_from_the_anchor_is_found_quickly() {
    // Billions of steps away in either direction: a guess plus a galloping search, not a walk.
    let r = iso("R/2024-01-01T00:00:00Z/PT0.5S", Tz::UTC);
    assert_eq!(
        r.next_after(utc("9000-01-01T00:00:00.2Z")).map(|(_, t)| t),
        Some(utc("9000-01-01T00:00:00.5Z"))
    );
    let r = iso("R/PT0.5S/2024-01-01T00:00:00Z", Tz::UTC);
    let (j, t) = r.next_after(utc("1500-06-01T00:00:00.7Z")).unwrap();
    assert_eq!((t, r.nth(j)), (utc("1500-06-01T00:00:01Z"), Some(t)));
    let r = iso("R/2024-01-31T00:00:00Z/P1M", Tz::UTC);
    let (k, t) = r.next_after(utc("2900-03-01T00:00:00Z")).unwrap();
    assert_eq!((k, t), (10_514, utc("2900-03-31T00:00:00Z")));
}
