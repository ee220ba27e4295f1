//! Schedule math for recurring timers: cron expressions, ISO 8601 repeating intervals, fixed
//! intervals and duration strings. Pure functions of their inputs: "now" and the time zone
//! are always passed in.
//!
//! # Cron
//!
//! [`CronExpr`] reads 6 fields with seconds (`sec min hour day-of-month month day-of-week`),
//! classic 5 fields (seconds are then 0), or a macro (`@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly`). Fields take `*`, lists, ranges, steps
//! (`*/n`, `a-b/n`, `a/n`), `?` in the two day fields, `JAN`-`DEC` and `SUN`-`SAT` in any case,
//! and weekday 7 as a second Sunday. Reversed ranges (`5-2`) are refused rather than wrapped,
//! since readers disagree on what they mean.
//!
//! **Day-of-month and day-of-week** follow Vixie cron (and robfig/cron): when both are
//! restricted, a day matches if *either* does (`0 0 0 1 * MON` fires on the 1st and on every
//! Monday); when one of them is written with `*` or `?` (a step such as `*/2` included), a day
//! must match both, which in practice lets the restricted one decide.
//!
//! # Daylight saving
//!
//! Cron is evaluated on the wall clock of the timer's zone:
//! * a matching local time that does not exist (the clock springs forward over it) fires once,
//!   at the end of the gap: `30 2 * * *` in Europe/Paris on the last Sunday of March fires at
//!   03:00 local. Several matching times in one gap still fire only once, at that instant;
//! * a matching local time that occurs twice (the clock falls back) fires once, at its first
//!   instant; the second pass of the repeated hour fires nothing.
//!
//! Zones with other shifts (Australia/Lord_Howe moves by 30 minutes, Pacific/Apia once skipped
//! a whole day) follow the same rules: transitions are found in the zone data, not assumed.
//!
//! Calendar arithmetic ([`CalendarDuration`], [`IsoRepeat`]) is not a wall-clock match but a
//! length, so a computed local time that does not exist is moved forward by the gap's length
//! (02:30 + P1D onto a spring-forward day is 03:30), as RFC 5545, java.time and Temporal do; a
//! time that occurs twice is its first instant. [`Every`] is absolute time and ignores the
//! wall clock altogether.
//!
//! # Calendar arithmetic
//!
//! Adding a [`CalendarDuration`] follows java.time and Temporal: years and months are added
//! to the local date, clamped to the end of the month (Jan 31 + P1M = Feb 28, or Feb 29 in a
//! leap year; Feb 29 + P1Y = Feb 28), then weeks and days on the local date, so `P1D` keeps
//! the time of day across a DST change; the result is read in the zone, and hours, minutes and
//! seconds are then added as absolute time (`PT24H` across a DST change is 24 real hours).
//!
//! Occurrence `k` of a repetition is `start + k·duration` computed in one step, never `k`
//! additions in a row: Jan 31 + 2 × P1M is Mar 31, not the Mar 28 that clamping twice would
//! give, and a late occurrence never carries the drift of the ones before it.
//!
//! # Repeating intervals
//!
//! [`IsoRepeat`] reads `R[n]/<start>/<duration>`, `R[n]/<duration>/<end>` (counted back from
//! the end, which is the last occurrence) and `R[n]/<start>/<end>` (the span between them is
//! the duration). `R` alone repeats forever, `R1` is one occurrence, and `R0` is refused: a
//! timer that can never fire is far more likely a mistake than a wish.

mod calendar_duration;
mod cron_expr;
mod cron_field;
mod duration;
mod error;
mod every;
mod iso_instant;
mod iso_repeat;
mod wall_clock;

#[cfg(test)]
mod calendar_duration_tests;
#[cfg(test)]
mod cron_tests;
#[cfg(test)]
mod iso_repeat_tests;
#[cfg(test)]
mod proptests;

use chrono_tz::Tz;

pub use calendar_duration::CalendarDuration;
pub use cron_expr::CronExpr;
pub use duration::{format_duration, parse_duration};
pub use error::{RecurrenceError, Syntax};
pub use every::Every;
pub use iso_repeat::IsoRepeat;

/// Parses an IANA time zone name (`Europe/Paris`, `America/New_York`, `UTC`).
///
/// Names are case-sensitive, as in the zone database; a name that differs only in case is
/// refused with the right spelling in the message, rather than silently accepted.
pub fn parse_tz(name: &str) -> Result<Tz, RecurrenceError> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    let hint = match chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(name.trim()))
    {
        Some(tz) => format!("did you mean {}?", tz.name()),
        None => "use an IANA name such as Europe/Paris, America/New_York or UTC".to_string(),
    };
    Err(RecurrenceError::new(
        Syntax::TimeZone,
        format!("unknown time zone {name:?}; {hint}"),
    )
    .in_field("timezone"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_by_name() {
        assert_eq!(parse_tz("Europe/Paris").unwrap(), chrono_tz::Europe::Paris);
        assert_eq!(parse_tz("UTC").unwrap(), Tz::UTC);
        assert_eq!(
            parse_tz("europe/paris").unwrap_err().to_string(),
            "timezone: unknown time zone \"europe/paris\"; did you mean Europe/Paris?"
        );
        let e = parse_tz("Mars/Olympus").unwrap_err();
        assert!(
            e.message.contains("IANA") && e.field == Some("timezone"),
            "{e}"
        );
        assert!(parse_tz("").is_err());
    }
}
