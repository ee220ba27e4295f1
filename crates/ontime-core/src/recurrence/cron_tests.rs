//! Unit tests of cron parsing and evaluation: grammar, every refusal, the day rule, and the
//! daylight-saving policy on known transitions.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use chrono_tz::{America::New_York, Australia::Lord_Howe, Europe::Paris};

use super::CronExpr;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn cron(expr: &str) -> CronExpr {
    CronExpr::parse(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"))
}

/// The first `n` occurrences after `after`.
fn run(expr: &str, tz: Tz, after: &str, n: usize) -> Vec<DateTime<Utc>> {
    let c = cron(expr);
    let mut at = utc(after);
    (0..n)
        .map(|_| {
            at = c.next_after(at, tz).unwrap();
            at
        })
        .collect()
}

fn utcs(list: &[&str]) -> Vec<DateTime<Utc>> {
    list.iter().map(|s| utc(s)).collect()
}

fn refusal(expr: &str) -> String {
    CronExpr::parse(expr)
        .map(|c| format!("accepted: {c:?}"))
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn six_fields_with_seconds_and_five_without() {
    assert_eq!(
        run("15 */20 * * * *", Tz::UTC, "2024-01-01T00:00:00Z", 3),
        utcs(&[
            "2024-01-01T00:00:15Z",
            "2024-01-01T00:20:15Z",
            "2024-01-01T00:40:15Z"
        ])
    );
    assert_eq!(
        run("*/20 * * * *", Tz::UTC, "2024-01-01T00:00:00Z", 2),
        utcs(&["2024-01-01T00:20:00Z", "2024-01-01T00:40:00Z"])
    );
    assert_eq!(
        run("* * * * * *", Tz::UTC, "2024-01-01T00:00:00.5Z", 2),
        utcs(&["2024-01-01T00:00:01Z", "2024-01-01T00:00:02Z"])
    );
}

#[test]
fn macros() {
    let after = "2024-05-15T10:11:12Z";
    assert_eq!(
        run("@yearly", Tz::UTC, after, 1),
        utcs(&["2025-01-01T00:00:00Z"])
    );
    assert_eq!(
        run("@ANNUALLY", Tz::UTC, after, 1),
        utcs(&["2025-01-01T00:00:00Z"])
    );
    assert_eq!(
        run("@monthly", Tz::UTC, after, 1),
        utcs(&["2024-06-01T00:00:00Z"])
    );
    assert_eq!(
        run("@weekly", Tz::UTC, after, 1),
        utcs(&["2024-05-19T00:00:00Z"])
    );
    assert_eq!(
        run("@daily", Tz::UTC, after, 1),
        utcs(&["2024-05-16T00:00:00Z"])
    );
    assert_eq!(
        run(" @midnight ", Paris, after, 1),
        utcs(&["2024-05-15T22:00:00Z"])
    );
    assert_eq!(
        run("@hourly", Tz::UTC, after, 1),
        utcs(&["2024-05-15T11:00:00Z"])
    );
    assert_eq!(cron("@daily").to_string(), "@daily");
}

#[test]
fn names_in_any_case_and_sunday_as_0_or_7() {
    // 2024-05-15 is a Wednesday.
    let after = "2024-05-15T10:00:00Z";
    assert_eq!(
        run("0 0 12 * * mon-Fri", Tz::UTC, after, 3),
        utcs(&[
            "2024-05-15T12:00:00Z",
            "2024-05-16T12:00:00Z",
            "2024-05-17T12:00:00Z"
        ])
    );
    let sunday = utcs(&["2024-05-19T00:00:00Z"]);
    assert_eq!(run("0 0 * * 0", Tz::UTC, after, 1), sunday);
    assert_eq!(run("0 0 * * 7", Tz::UTC, after, 1), sunday);
    assert_eq!(run("0 0 * * SUN", Tz::UTC, after, 1), sunday);
    assert_eq!(
        run("0 0 * * 6-7", Tz::UTC, after, 2),
        utcs(&["2024-05-18T00:00:00Z", "2024-05-19T00:00:00Z"])
    );
    assert_eq!(
        run("0 0 0 1 jan,JUL *", Tz::UTC, after, 2),
        utcs(&["2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"])
    );
}

#[test]
fn question_mark_is_a_star_in_day_fields() {
    assert_eq!(
        cron("0 0 0 ? * MON").next_after(utc("2024-05-15T00:00:00Z"), Tz::UTC),
        Some(utc("2024-05-20T00:00:00Z"))
    );
    assert_eq!(
        cron("0 0 0 10 * ?").next_after(utc("2024-05-15T00:00:00Z"), Tz::UTC),
        Some(utc("2024-06-10T00:00:00Z"))
    );
}

#[test]
fn both_day_fields_restricted_match_either() {
    // The 1st of the month, and every Monday (Vixie cron).
    let after = "2024-05-28T00:00:00Z"; // a Tuesday
    assert_eq!(
        run("0 0 1 * MON", Tz::UTC, after, 3),
        utcs(&[
            "2024-06-01T00:00:00Z",
            "2024-06-03T00:00:00Z",
            "2024-06-10T00:00:00Z"
        ])
    );
    // One of them starred (even with a step): both must match, so only Mondays that are odd days.
    assert_eq!(
        run("0 0 */2 * MON", Tz::UTC, after, 2),
        utcs(&["2024-06-03T00:00:00Z", "2024-06-17T00:00:00Z"])
    );
    assert_eq!(
        run("0 0 * * MON", Tz::UTC, after, 1),
        utcs(&["2024-06-03T00:00:00Z"])
    );
}

#[test]
fn month_ends_and_leap_days() {
    assert_eq!(
        run("0 0 31 * *", Tz::UTC, "2024-01-31T00:00:00Z", 2),
        utcs(&["2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z"])
    );
    assert_eq!(
        run("0 0 29 2 *", Tz::UTC, "2024-03-01T00:00:00Z", 1),
        utcs(&["2028-02-29T00:00:00Z"])
    );
}

#[test]
fn spring_forward_fires_once_at_the_gap_end() {
    // Europe/Paris, 2024-03-31: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    assert_eq!(
        run("0 30 2 * * *", Paris, "2024-03-30T12:00:00Z", 2),
        utcs(&["2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"])
    );
    // Six matching times inside the gap, and 03:00 itself: one firing.
    assert_eq!(
        run("0 */10 2,3 * * *", Paris, "2024-03-30T23:55:00Z", 3),
        utcs(&[
            "2024-03-31T01:00:00Z",
            "2024-03-31T01:10:00Z",
            "2024-03-31T01:20:00Z"
        ])
    );
    // America/New_York, 2024-03-10: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    assert_eq!(
        run("30 2 * * *", New_York, "2024-03-09T12:00:00Z", 2),
        utcs(&["2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z"])
    );
    // Australia/Lord_Howe, 2024-10-06: 02:00 +10:30 jumps to 02:30 +11:00 (15:30 UTC the day before).
    assert_eq!(
        run("15 2 * * *", Lord_Howe, "2024-10-05T00:00:00Z", 2),
        utcs(&["2024-10-05T15:30:00Z", "2024-10-06T15:15:00Z"])
    );
}

#[test]
fn fall_back_fires_once_at_the_first_pass() {
    // Europe/Paris, 2024-10-27: 03:00 CEST falls back to 02:00 CET (01:00 UTC).
    assert_eq!(
        run("0 30 2 * * *", Paris, "2024-10-26T12:00:00Z", 2),
        utcs(&["2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"])
    );
    // Every half hour: the repeated 02:00 and 02:30 fire in the first pass only.
    assert_eq!(
        run("0 */30 * * * *", Paris, "2024-10-26T23:45:00Z", 4),
        utcs(&[
            "2024-10-27T00:00:00Z",
            "2024-10-27T00:30:00Z",
            "2024-10-27T02:00:00Z",
            "2024-10-27T02:30:00Z"
        ])
    );
    // Asked from inside the second pass, the next is after the repeated hour.
    assert_eq!(
        cron("0 */30 * * * *").next_after(utc("2024-10-27T01:15:00Z"), Paris),
        Some(utc("2024-10-27T02:00:00Z"))
    );
    // America/New_York, 2024-11-03: 02:00 EDT falls back to 01:00 EST (06:00 UTC).
    assert_eq!(
        run("30 1 * * *", New_York, "2024-11-02T12:00:00Z", 2),
        utcs(&["2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"])
    );
    // Australia/Lord_Howe, 2024-04-07: 02:00 +11:00 falls back to 01:30 +10:30 (15:00 UTC the day before).
    assert_eq!(
        run("45 1 * * *", Lord_Howe, "2024-04-06T00:00:00Z", 2),
        utcs(&["2024-04-06T14:45:00Z", "2024-04-07T15:15:00Z"])
    );
}

#[test]
fn refusals_say_what_and_where() {
    assert_eq!(
        refusal("0 0 25 * * *"),
        "cron: field 3 (hour): value 25 out of range 0-23 at position 4"
    );
    assert_eq!(
        refusal("0 0 0 1 JAX *"),
        "cron: field 5 (month): unknown month name \"JAX\" (use JAN-DEC or a number) at position 8"
    );
    assert_eq!(
        refusal("0 0 * * FUN"),
        "cron: field 5 (day-of-week): unknown weekday name \"FUN\" (use SUN-SAT or a number) at position 8"
    );
    assert_eq!(
        refusal("* * * *"),
        "cron: expected 5 or 6 fields (second minute hour day-of-month month day-of-week), got 4"
    );
    assert_eq!(
        refusal("0 0 0 1 1 * 2024"),
        "cron: expected 5 or 6 fields (second minute hour day-of-month month day-of-week), got 7 at position 12"
    );
    assert_eq!(refusal(""), "cron: empty expression");
    assert_eq!(refusal("   "), "cron: empty expression");
    assert_eq!(
        refusal("1,,2 * * * * *"),
        "cron: field 1 (second): empty list item at position 2"
    );
    assert_eq!(
        refusal("0 5, * * * *"),
        "cron: field 2 (minute): empty list item at position 4"
    );
    assert_eq!(
        refusal("*/0 * * * * *"),
        "cron: field 1 (second): step of zero (a step must be at least 1) at position 2"
    );
    assert_eq!(
        refusal("0 0 5-2 * * *"),
        "cron: field 3 (hour): range 5-2 is reversed (its start is after its end) at position 4"
    );
    assert_eq!(
        refusal("0 ? * * * *"),
        "cron: field 2 (minute): '?' is only allowed in day-of-month and day-of-week at position 2"
    );
    assert_eq!(
        refusal("0 0 ?/2 * *"),
        "cron: field 3 (day-of-month): '?' cannot take a step at position 4"
    );
    assert_eq!(
        refusal("0 0 0 L * ?"),
        "cron: field 4 (day-of-month): unexpected character 'L' (L, W and # are not supported) at position 6"
    );
    assert_eq!(
        refusal("0 0 * * 1#2"),
        "cron: field 5 (day-of-week): unexpected character '#' (L, W and # are not supported) at position 9"
    );
    assert_eq!(
        refusal("0 0 MON * * *"),
        "cron: field 3 (hour): \"MON\" is not a number at position 4"
    );
    assert_eq!(
        refusal("0 0 0 0 * *"),
        "cron: field 4 (day-of-month): value 0 out of range 1-31 at position 6"
    );
    assert_eq!(
        refusal("0 0 0 * 13 *"),
        "cron: field 5 (month): value 13 out of range 1-12 at position 8"
    );
    assert_eq!(
        refusal("0 0 * * 8"),
        "cron: field 5 (day-of-week): value 8 out of range 0-7 at position 8"
    );
    assert_eq!(
        refusal("99999999999 * * * * *"),
        "cron: field 1 (second): value 99999999999 out of range 0-59 at position 0"
    );
    assert_eq!(
        refusal("1-2-3 * * * * *"),
        "cron: field 1 (second): more than one '-' in one range at position 3"
    );
    assert_eq!(
        refusal("1/2/3 * * * * *"),
        "cron: field 1 (second): more than one '/' in one item at position 3"
    );
    assert_eq!(
        refusal("/5 * * * * *"),
        "cron: field 1 (second): missing value before '/' at position 0"
    );
    assert_eq!(
        refusal("5/ * * * * *"),
        "cron: field 1 (second): missing step after '/' at position 2"
    );
    assert_eq!(
        refusal("-5 * * * * *"),
        "cron: field 1 (second): missing start of range before '-' at position 0"
    );
    assert_eq!(
        refusal("5- * * * * *"),
        "cron: field 1 (second): missing end of range after '-' at position 2"
    );
    assert_eq!(
        refusal("*/x * * * * *"),
        "cron: field 1 (second): \"x\" is not a number at position 2"
    );
    assert_eq!(
        refusal("@reboot"),
        "cron: unknown macro \"@reboot\" (use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly) at position 0"
    );
    assert_eq!(
        refusal("0 0 0 30 2 *"),
        "cron: field 4 (day-of-month): day 30 never occurs in the selected months, so the expression never fires at position 6"
    );
    // Positions count characters, not bytes (a no-break space is two bytes).
    assert_eq!(
        refusal("0\u{a0}0 25 * * *"),
        "cron: field 3 (hour): value 25 out of range 0-23 at position 4"
    );
}

#[test]
fn quartz_markers_are_named_but_names_with_those_letters_pass() {
    let hint = "(L, W and # are not supported)";
    assert_eq!(
        refusal("0 0 15W * *"),
        format!("cron: field 3 (day-of-month): unexpected character 'W' {hint} at position 6")
    );
    assert_eq!(
        refusal("0 0 LW * *"),
        format!("cron: field 3 (day-of-month): unexpected character 'L' {hint} at position 4")
    );
    assert_eq!(
        refusal("0 0 * * 5L"),
        format!("cron: field 5 (day-of-week): unexpected character 'L' {hint} at position 9")
    );
    assert_eq!(
        refusal("0 0 * * L"),
        format!("cron: field 5 (day-of-week): unexpected character 'L' {hint} at position 8")
    );
    assert_eq!(
        run("0 0 * JUL WED", Tz::UTC, "2024-06-01T00:00:00Z", 1),
        utcs(&["2024-07-03T00:00:00Z"])
    );
}

#[test]
fn refusals_name_the_field() {
    let e = CronExpr::parse("0 0 25 * * *").unwrap_err();
    assert_eq!((e.field, e.position), (Some("hour"), Some(4)));
    // In 5 fields, the hour is field 2 of what the user wrote.
    assert_eq!(
        refusal("0 25 * * *"),
        "cron: field 2 (hour): value 25 out of range 0-23 at position 2"
    );
}

#[test]
fn rare_matches_are_found_and_none_is_never_an_infinite_loop() {
    // The 1st or 29th of February that is also a Monday (day-of-month starred, so both must match).
    assert_eq!(
        cron("0 0 0 */28 2 MON").next_after(utc("2024-03-01T00:00:00Z"), Tz::UTC),
        Some(utc("2027-02-01T00:00:00Z"))
    );
    // February 29 that is also a Sunday (day-of-week written with a step).
    assert_eq!(
        cron("0 0 0 29 2 */7").next_after(utc("2024-03-01T00:00:00Z"), Tz::UTC),
        Some(utc("2032-02-29T00:00:00Z"))
    );
    assert_eq!(
        cron("* * * * * *").next_after(DateTime::<Utc>::MAX_UTC, Tz::UTC),
        None
    );
}
