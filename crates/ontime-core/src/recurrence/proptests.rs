//! Property tests of the schedule math: against the `cron` crate, against a second-by-second
//! scan of the wall clock around real DST transitions, and the invariants of calendar
//! arithmetic and repetition numbering. Case counts are kept low so the module runs in
//! seconds in a debug build.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use chrono_tz::{America::New_York, Australia::Lord_Howe, Europe::Paris};
use proptest::prelude::*;

use super::{CalendarDuration, CronExpr, Every, IsoRepeat, format_duration, parse_duration};

const ZONES: [Tz; 4] = [Tz::UTC, Paris, New_York, Lord_Howe];

/// The 2024 transitions of the zones in [`ZONES`] (UTC instants), gaps and overlaps alike.
const TRANSITIONS: [(Tz, &str); 6] = [
    (Paris, "2024-03-31T01:00:00Z"),
    (Paris, "2024-10-27T01:00:00Z"),
    (New_York, "2024-03-10T07:00:00Z"),
    (New_York, "2024-11-03T06:00:00Z"),
    (Lord_Howe, "2024-04-06T15:00:00Z"),
    (Lord_Howe, "2024-10-05T15:30:00Z"),
];

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// One list item of a numeric field, in forms both parsers read the same way.
fn item(min: u32, max: u32) -> BoxedStrategy<String> {
    let step = 1..=max.min(12);
    prop_oneof![
        Just("*".to_string()),
        step.clone().prop_map(|n| format!("*/{n}")),
        (min..=max).prop_map(|a| a.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (min..=max, min..=max, step.clone()).prop_map(|(a, b, n)| format!(
            "{}-{}/{n}",
            a.min(b),
            a.max(b)
        )),
        (min..=max, step).prop_map(|(a, n)| format!("{a}/{n}")),
    ]
    .boxed()
}

fn field(min: u32, max: u32) -> BoxedStrategy<String> {
    prop::collection::vec(item(min, max), 1..3)
        .prop_map(|items| items.join(","))
        .boxed()
}

/// A field written with `*` (with or without step): "not restricted" for the day rule.
fn starred(max_step: u32) -> BoxedStrategy<String> {
    prop_oneof![
        Just("*".to_string()),
        (1..=max_step).prop_map(|n| format!("*/{n}"))
    ]
    .boxed()
}

/// Weekdays by name: the `cron` crate numbers them from 1 = Sunday, names mean the same to both.
fn weekdays() -> BoxedStrategy<String> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    let one = prop_oneof![
        (0..7usize).prop_map(|d| NAMES[d].to_string()),
        (0..7usize, 0..7usize).prop_map(|(a, b)| format!(
            "{}-{}",
            NAMES[a.min(b)],
            NAMES[a.max(b)]
        )),
        (0..7usize, 0..7usize, 1..=3u32).prop_map(|(a, b, n)| format!(
            "{}-{}/{n}",
            NAMES[a.min(b)],
            NAMES[a.max(b)]
        )),
    ];
    prop::collection::vec(one, 1..3)
        .prop_map(|items| items.join(","))
        .boxed()
}

/// Six-field expressions on which Vixie's day rule and the `cron` crate's agree: at least one
/// of the two day fields is starred, so a day must match both.
fn expression() -> impl Strategy<Value = String> {
    let days = prop_oneof![
        (field(1, 31), starred(6)),
        (starred(10), weekdays()),
        (starred(10), starred(6))
    ];
    (field(0, 59), field(0, 59), field(0, 23), days, field(1, 12))
        .prop_map(|(s, m, h, (dom, dow), mon)| format!("{s} {m} {h} {dom} {mon} {dow}"))
}

/// Dense expressions that fire within hours, for scans of the clock around transitions.
fn dense_expression() -> impl Strategy<Value = String> {
    let seconds = prop_oneof![
        Just("0".to_string()),
        Just("*/20".to_string()),
        Just("10,40".to_string())
    ];
    let minutes = prop_oneof![
        Just("*".to_string()),
        item(0, 59),
        (1..=15u32).prop_map(|n| format!("*/{n}"))
    ];
    let hours = prop_oneof![Just("*".to_string()), item(0, 4), field(0, 23)];
    (seconds, minutes, hours).prop_map(|(s, m, h)| format!("{s} {m} {h} * * *"))
}

fn instant(from_year: i32, to_year: i32) -> impl Strategy<Value = DateTime<Utc>> {
    let (lo, hi) = (
        utc(&format!("{from_year}-01-01T00:00:00Z")).timestamp(),
        utc(&format!("{to_year}-01-01T00:00:00Z")).timestamp(),
    );
    (lo..hi, 0..1_000_000_000u32).prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

/// Every firing instant in `(from, to]`, found by looking at the wall clock each second: a
/// second fires when its wall-clock time matches and this is that time's first instant, or
/// when the clock just jumped over a matching time.
fn scan(c: &CronExpr, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let first = from.timestamp() + 1;
    let mut prev_local = DateTime::from_timestamp(first - 1, 0)
        .unwrap()
        .with_timezone(&tz)
        .naive_local();
    for secs in first..=to.timestamp() {
        let t = DateTime::from_timestamp(secs, 0).unwrap();
        let local = t.with_timezone(&tz).naive_local();
        let first_pass = tz
            .from_local_datetime(&local)
            .earliest()
            .map(|e| e.with_timezone(&Utc))
            == Some(t);
        let mut fires = c.matches(local) && first_pass;
        let mut skipped = prev_local + TimeDelta::seconds(1);
        while !fires && skipped < local {
            fires = c.matches(skipped);
            skipped += TimeDelta::seconds(1);
        }
        if fires {
            out.push(t);
        }
        prev_local = local;
    }
    out
}

fn iterate(c: &CronExpr, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut at = from;
    while let Some(next) = c.next_after(at, tz).filter(|t| *t <= to) {
        out.push(next);
        at = next;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_the_cron_crate_in_utc(expr in expression(), start in instant(2000, 2040)) {
        let start = start.with_nanosecond(0).unwrap();
        let theirs: Vec<_> = ::cron::Schedule::from_str(&expr).unwrap().after(&start).take(5).collect();
        match CronExpr::parse(&expr) {
            Ok(ours) => {
                let mut at = start;
                let ours: Vec<_> = (0..theirs.len()).map_while(|_| { at = ours.next_after(at, Tz::UTC)?; Some(at) }).collect();
                prop_assert_eq!(ours, theirs, "{}", expr);
            }
            // Refused only when it can never fire.
            Err(e) => prop_assert!(theirs.is_empty() && e.message.contains("never fires"), "{expr}: {e}"),
        }
    }

    #[test]
    fn next_is_strictly_after_and_a_real_occurrence(expr in expression(), after in instant(2000, 2040), zone in 0..4usize) {
        let Ok(c) = CronExpr::parse(&expr) else { return Ok(()) };
        let tz = ZONES[zone];
        let next = c.next_after(after, tz).unwrap();
        prop_assert!(next > after);
        let local = next.with_timezone(&tz).naive_local();
        let just_before = (next - TimeDelta::seconds(1)).with_timezone(&tz).naive_local();
        // Either the wall clock matches, or the clock just jumped (over a matching time).
        prop_assert!(c.matches(local) || local - just_before > TimeDelta::seconds(1), "{expr} in {tz}: {next}");
    }

    #[test]
    fn never_skips_an_occurrence_around_transitions(expr in dense_expression(), which in 0..7usize, lead in 0..7200i64, nanos in 0..1_000_000_000u32) {
        let c = CronExpr::parse(&expr).unwrap();
        let (tz, around) = TRANSITIONS.get(which).map_or((Tz::UTC, utc("2024-06-01T01:00:00Z")), |(tz, t)| (*tz, utc(t)));
        let from = around - TimeDelta::seconds(lead) + TimeDelta::nanoseconds(nanos.into());
        let to = from + TimeDelta::hours(3);
        prop_assert_eq!(iterate(&c, tz, from, to), scan(&c, tz, from, to), "{} in {}", expr, tz);
    }

    #[test]
    fn survives_daylight_saving_changes(expr in expression(), which in 0..6usize) {
        let Ok(c) = CronExpr::parse(&expr) else { return Ok(()) };
        let (tz, around) = (TRANSITIONS[which].0, utc(TRANSITIONS[which].1));
        let fired = iterate(&c, tz, around - TimeDelta::days(1), around + TimeDelta::days(1));
        let mut walls = std::collections::HashSet::new();
        for pair in fired.windows(2) {
            prop_assert!(pair[0] < pair[1], "{expr} in {tz}: not increasing");
        }
        for t in &fired {
            let local = t.with_timezone(&tz).naive_local();
            prop_assert!(walls.insert(local), "{expr} in {tz}: wall time {local} fired twice");
            let at_gap_end = local - (*t - TimeDelta::seconds(1)).with_timezone(&tz).naive_local() > TimeDelta::seconds(1);
            let first_pass = tz.from_local_datetime(&local).earliest().map(|e| e.with_timezone(&Utc)) == Some(*t);
            prop_assert!(at_gap_end || (c.matches(local) && first_pass), "{expr} in {tz}: {t} is neither a match's first instant nor a gap end");
        }
    }

    #[test]
    fn months_clamp_to_the_month_end(year in 1990..2040i32, month in 1..=12u32, day in 28..=31u32, k in 0..60u64) {
        let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else { return Ok(()) };
        let start = Tz::UTC.from_utc_datetime(&date.and_hms_opt(7, 8, 9).unwrap());
        let p1m = CalendarDuration::parse("P1M").unwrap();
        let got = p1m.add_times(start, k).unwrap();
        let months = (month - 1) as u64 + k;
        let (y, m) = (year + (months / 12) as i32, (months % 12) as u32 + 1);
        let last = NaiveDate::from_ymd_opt(y + (m / 12) as i32, m % 12 + 1, 1).unwrap().pred_opt().unwrap().day();
        prop_assert_eq!(got.date_naive(), NaiveDate::from_ymd_opt(y, m, day.min(last)).unwrap());
        prop_assert_eq!(got.time(), start.time());
        prop_assert!(p1m.add_times(start, k + 1).unwrap() > got);
    }

    #[test]
    fn a_year_from_february_29(year in (1990..2040i32).prop_map(|y| y - y % 4), k in 0..20u64) {
        prop_assume!(year % 100 != 0 || year % 400 == 0);
        let start = Tz::UTC.with_ymd_and_hms(year, 2, 29, 12, 0, 0).unwrap();
        let got = CalendarDuration::parse("P1Y").unwrap().add_times(start, k).unwrap();
        let y = year + k as i32;
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        prop_assert_eq!((got.year(), got.month(), got.day()), (y, 2, if leap { 29 } else { 28 }));
    }

    #[test]
    fn iso_next_after_is_numbered_consistently(
        anchor in instant(2000, 2030),
        step in prop::sample::select(vec!["P1M", "P1D", "PT90M", "P1Y2M10DT2H30M", "P2W", "PT0.5S", "P1MT1S"]),
        count in prop::option::of(1..50u64),
        backward in any::<bool>(),
        zone in 0..4usize,
        offset_days in -400..4000i64,
    ) {
        let tz = ZONES[zone];
        let anchor_text = anchor.with_timezone(&tz).naive_local().format("%Y-%m-%dT%H:%M:%S");
        let n = count.map(|n| n.to_string()).unwrap_or_default();
        let expr = if backward { format!("R{n}/{step}/{anchor_text}") } else { format!("R{n}/{anchor_text}/{step}") };
        let r = IsoRepeat::parse(&expr, tz).unwrap();
        let after = anchor + TimeDelta::days(offset_days) - TimeDelta::days(if backward { 3000 } else { 0 });
        // The occurrence just before in time: the previous number, except for the unbounded
        // backward form, which counts the other way.
        let earlier = |k: u64| if backward && count.is_none() { r.nth(k + 1) } else { k.checked_sub(1).and_then(|k| r.nth(k)) };
        match r.next_after(after) {
            Some((k, t)) => {
                prop_assert!(t > after, "{expr}: {t} not after {after}");
                prop_assert_eq!(r.nth(k), Some(t));
                prop_assert!(earlier(k).is_none_or(|e| e <= after), "{expr}: an earlier occurrence is also after {after}");
            }
            None => {
                let last = if backward { r.nth(count.map_or(0, |n| n - 1)) } else { r.nth(count.unwrap() - 1) };
                prop_assert!(last.unwrap() <= after, "{expr}: None although {last:?} is after {after}");
            }
        }
    }

    #[test]
    fn every_counts_from_its_anchor(anchor in instant(2000, 2030), millis in 1..864_000_000u64, offset in -1_000_000..1_000_000_000_000i64) {
        let e = Every::new(anchor, Duration::from_millis(millis)).unwrap();
        let after = anchor + TimeDelta::milliseconds(offset) + TimeDelta::nanoseconds(offset % 1_000_000);
        let (k, t) = e.next_after(after).unwrap();
        prop_assert!(t > after);
        prop_assert_eq!(e.nth(k), Some(t));
        prop_assert!(k == 0 || e.nth(k - 1).unwrap() <= after);
    }

    #[test]
    fn durations_round_trip_through_their_canonical_form(secs in 0..10_000_000u64, nanos in prop_oneof![Just(0u32), (0..1_000u32).prop_map(|m| m * 1_000_000), 0..1_000_000_000u32]) {
        let d = Duration::new(secs, nanos);
        prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
    }
}
