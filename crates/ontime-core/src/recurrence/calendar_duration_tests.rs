//! Unit tests of ISO 8601 durations: parsing, every refusal, month-end arithmetic, and the
//! date part on the wall clock with the time part in absolute time across DST.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use chrono_tz::Tz;

use super::CalendarDuration;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn paris(s: &str) -> DateTime<Tz> {
    Paris
        .from_local_datetime(&s.parse().unwrap())
        .single()
        .unwrap()
}

fn in_utc(s: &str) -> DateTime<Tz> {
    utc(s).with_timezone(&Tz::UTC)
}

fn dur(s: &str) -> CalendarDuration {
    CalendarDuration::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn durations_parse_and_print_canonically() {
    for (input, canonical) in [
        ("P1Y2M10DT2H30M", "P1Y2M10DT2H30M"),
        ("PT90M", "PT1H30M"),
        ("P2W", "P2W"),
        ("P1W3D", "P1W3D"),
        ("PT0.5S", "PT0.5S"),
        ("PT1,5H", "PT1H30M"),
        ("p1dt1h", "P1DT1H"),
        ("PT0S", "PT0S"),
    ] {
        assert_eq!(dur(input).to_string(), canonical, "{input}");
        assert_eq!(dur(canonical), dur(input));
    }
    assert!(dur("P0D").is_zero() && dur("PT0.0S").is_zero() && !dur("PT0.001S").is_zero());
    assert_eq!(
        dur("P1WT1S").fixed_length(),
        Some(Duration::from_secs(604_801))
    );
    assert_eq!(dur("P1M").fixed_length(), None);
}

#[test]
fn duration_refusals_say_what_and_where() {
    let refusal = |s: &str| CalendarDuration::parse(s).unwrap_err().to_string();
    assert_eq!(refusal(""), "iso8601: empty duration");
    assert_eq!(
        refusal("1D"),
        "iso8601: invalid duration \"1D\": it must start with 'P' (e.g. P1D, PT90M) at position 0"
    );
    assert_eq!(
        refusal("-P1D"),
        "iso8601: negative duration \"-P1D\" is not allowed at position 0"
    );
    assert_eq!(
        refusal("P"),
        "iso8601: invalid duration \"P\": no components after 'P' (e.g. P1D, PT90M) at position 0"
    );
    assert_eq!(
        refusal("PT"),
        "iso8601: 'T' must be followed by hours, minutes or seconds at position 1"
    );
    assert_eq!(
        refusal("P1DT"),
        "iso8601: 'T' must be followed by hours, minutes or seconds at position 3"
    );
    assert_eq!(
        refusal("P1H"),
        "iso8601: unknown designator 'H' (before 'T': Y, M, W, D; put hours, minutes and seconds after 'T') at position 2"
    );
    assert_eq!(
        refusal("PT1D"),
        "iso8601: unknown designator 'D' (after 'T': H, M, S) at position 3"
    );
    assert_eq!(
        refusal("P1D1Y"),
        "iso8601: designator 'Y' is repeated or out of order (order: PnYnMnWnDTnHnMnS) at position 4"
    );
    assert_eq!(
        refusal("P1M1M"),
        "iso8601: designator 'M' is repeated or out of order (order: PnYnMnWnDTnHnMnS) at position 4"
    );
    assert_eq!(
        refusal("P0.5D"),
        "iso8601: fractions are only allowed on hours, minutes and seconds at position 1"
    );
    assert_eq!(
        refusal("PT1.5H30M"),
        "iso8601: only the last component may have a fraction at position 2"
    );
    assert_eq!(
        refusal("P-1D"),
        "iso8601: unexpected character '-' at position 1"
    );
    assert_eq!(
        refusal("PD"),
        "iso8601: missing number before 'D' at position 1"
    );
    assert_eq!(
        refusal("P1"),
        "iso8601: number 1 has no designator after it at position 1"
    );
    assert_eq!(
        refusal("PT1TH"),
        "iso8601: unknown designator 'T' (after 'T': H, M, S) at position 3"
    );
    assert_eq!(
        refusal("P99999999999Y"),
        "iso8601: value 99999999999 is too large at position 1"
    );
    assert_eq!(
        refusal("PT1..5S"),
        "iso8601: invalid number \"1..5\" at position 2"
    );
}

#[test]
fn months_clamp_to_the_month_end_and_multiples_do_not_accumulate() {
    let p1m = dur("P1M");
    let jan31 = in_utc("2024-01-31T10:00:00Z");
    assert_eq!(p1m.add_to(jan31), Some(in_utc("2024-02-29T10:00:00Z")));
    assert_eq!(
        p1m.add_to(in_utc("2023-01-31T10:00:00Z")),
        Some(in_utc("2023-02-28T10:00:00Z"))
    );
    assert_eq!(
        p1m.add_times(jan31, 2),
        Some(in_utc("2024-03-31T10:00:00Z"))
    );
    assert_eq!(
        p1m.add_times(jan31, 3),
        Some(in_utc("2024-04-30T10:00:00Z"))
    );
    assert_eq!(
        p1m.sub_times(in_utc("2024-03-31T10:00:00Z"), 1),
        Some(in_utc("2024-02-29T10:00:00Z"))
    );
    let p1y = dur("P1Y");
    let leap = in_utc("2024-02-29T00:00:00Z");
    assert_eq!(p1y.add_to(leap), Some(in_utc("2025-02-28T00:00:00Z")));
    assert_eq!(p1y.add_times(leap, 4), Some(in_utc("2028-02-29T00:00:00Z")));
    assert_eq!(p1y.add_times(leap, 0), Some(leap));
}

#[test]
fn days_follow_the_wall_clock_and_hours_absolute_time() {
    // Paris springs forward on 2024-03-31: that day has 23 hours.
    assert_eq!(
        dur("P1D").add_to(paris("2024-03-30T12:00:00")),
        Some(paris("2024-03-31T12:00:00"))
    );
    assert_eq!(
        dur("PT24H").add_to(paris("2024-03-30T12:00:00")),
        Some(paris("2024-03-31T13:00:00"))
    );
    // The date part lands in the gap: moved forward by its hour.
    assert_eq!(
        dur("P1D").add_to(paris("2024-03-30T02:30:00")),
        Some(paris("2024-03-31T03:30:00"))
    );
    // Date part first (to 01:00 CET), then two real hours (to 04:00 CEST).
    assert_eq!(
        dur("P1DT2H").add_to(paris("2024-03-30T01:00:00")),
        Some(paris("2024-03-31T04:00:00"))
    );
    // Paris falls back on 2024-10-27: that day has 25 hours; the repeated 02:30 is its first pass.
    assert_eq!(
        dur("P1D")
            .add_to(paris("2024-10-26T02:30:00"))
            .map(|t| t.with_timezone(&Utc)),
        Some(utc("2024-10-27T00:30:00Z"))
    );
    // Without a date part the wall clock is not consulted: from the second pass, an exact hour.
    let second_pass = utc("2024-10-27T01:30:00Z").with_timezone(&Paris);
    assert_eq!(
        dur("PT1H")
            .add_to(second_pass)
            .map(|t| t.with_timezone(&Utc)),
        Some(utc("2024-10-27T02:30:00Z"))
    );
}
