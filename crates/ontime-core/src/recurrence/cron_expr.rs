//! Cron expressions: parsing, matching a wall-clock time, and the next occurrence in a zone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;

use super::cron_field::{FIELDS, FieldSet, parse_field};
use super::error::{RecurrenceError, Syntax, char_offset};
use super::wall_clock::resolve_cron;

/// A parsed cron expression, evaluated on the wall clock of a time zone.
///
/// See the [module docs](super) for the grammar, the day-of-month/day-of-week rule and what
/// happens across daylight-saving changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CronExpr {
    source: String,
    seconds: FieldSet,
    minutes: FieldSet,
    hours: FieldSet,
    days_of_month: FieldSet,
    months: FieldSet,
    days_of_week: FieldSet,
    /// Both day fields are restricted, so a day matches when either does (Vixie cron).
    days_either: bool,
}

/// How far ahead a search gives up: the Gregorian calendar repeats every 400 years, so an
/// expression with no match in that window has none at all.
const SEARCH_YEARS: i32 = 400;

const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 0 1 1 *"),
    ("@annually", "0 0 0 1 1 *"),
    ("@monthly", "0 0 0 1 * *"),
    ("@weekly", "0 0 0 * * 0"),
    ("@daily", "0 0 0 * * *"),
    ("@midnight", "0 0 0 * * *"),
    ("@hourly", "0 0 * * * *"),
];

impl CronExpr {
    /// Parses 6 fields with seconds (`sec min hour day-of-month month day-of-week`), classic 5
    /// fields (seconds = 0), or a macro: `@yearly`, `@annually`, `@monthly`, `@weekly`,
    /// `@daily`, `@midnight`, `@hourly`.
    ///
    /// Fields take `*`, lists (`a,b`), ranges (`a-b`, reversed ranges are refused), steps
    /// (`*/n`, `a-b/n`, and `a/n` meaning `a` to the field's end), `?` in the two day fields,
    /// month names `JAN`-`DEC` and weekday names `SUN`-`SAT` (any case). Weekdays are 0-6 from
    /// Sunday, and 7 is Sunday too. An expression that can never match (`0 0 0 30 2 *`) is
    /// refused rather than accepted as a timer that never fires.
    pub fn parse(expr: &str) -> Result<CronExpr, RecurrenceError> {
        let trimmed = expr.trim_start();
        let lead = expr.len() - trimmed.len();
        let trimmed = trimmed.trim_end();
        if trimmed.is_empty() {
            return Err(RecurrenceError::new(Syntax::Cron, "empty expression"));
        }
        if trimmed.starts_with('@') {
            return Self::parse_macro(expr, lead, trimmed);
        }
        let fields: Vec<(usize, &str)> = split_fields(expr);
        let offset = match fields.len() {
            6 => 0,
            5 => 1,
            n => {
                let msg = format!(
                    "expected 5 or 6 fields (second minute hour day-of-month month day-of-week), got {n}"
                );
                let err = RecurrenceError::new(Syntax::Cron, msg);
                return Err(match fields.get(6) {
                    Some((start, _)) => err.at(char_offset(expr, *start)),
                    None => err,
                });
            }
        };
        let mut parsed = Vec::with_capacity(6);
        if offset == 1 {
            parsed.push(parse_field("0", 0, 1, 0, &FIELDS[0])?);
        }
        for (i, (start, text)) in fields.iter().enumerate() {
            parsed.push(parse_field(
                expr,
                *start,
                text.len(),
                i + 1,
                &FIELDS[i + offset],
            )?);
        }
        let (dom, dow) = (parsed[3], parsed[5]);
        let cron = CronExpr {
            source: trimmed.to_string(),
            seconds: parsed[0].set,
            minutes: parsed[1].set,
            hours: parsed[2].set,
            days_of_month: dom.set,
            months: parsed[4].set,
            days_of_week: dow.set,
            days_either: !dom.starred && !dow.starred,
        };
        if !cron.can_match() {
            let (start, text) = fields[3 - offset];
            let msg = format!(
                "field {} (day-of-month): day {text} never occurs in the selected months, so the expression never fires",
                4 - offset
            );
            return Err(RecurrenceError::new(Syntax::Cron, msg)
                .at(char_offset(expr, start))
                .in_field("day-of-month"));
        }
        Ok(cron)
    }

    fn parse_macro(expr: &str, lead: usize, name: &str) -> Result<CronExpr, RecurrenceError> {
        let lower = name.to_ascii_lowercase();
        match MACROS.iter().find(|(m, _)| *m == lower) {
            Some((_, fields)) => Ok(CronExpr {
                source: name.to_string(),
                ..Self::parse(fields)?
            }),
            None => {
                let names: Vec<&str> = MACROS.iter().map(|(m, _)| *m).collect();
                let msg = format!("unknown macro {name:?} (use one of {})", names.join(", "));
                Err(RecurrenceError::new(Syntax::Cron, msg).at(char_offset(expr, lead)))
            }
        }
    }

    /// Whether some day can match at all. Only a restricted day-of-month under an unrestricted
    /// day-of-week can fail: every month has every weekday, but not every day number.
    fn can_match(&self) -> bool {
        if self.days_either || self.days_of_month.first() == Some(1) {
            return true;
        }
        let first_day = self.days_of_month.first().unwrap_or(32);
        // Leap-year lengths: February 29 does occur, every four years or so.
        const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12).any(|m| self.months.contains(m) && first_day <= LONGEST[m as usize - 1])
    }

    /// Whether the wall-clock time `local` matches, to the second (fractions are ignored).
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        self.months.contains(local.month())
            && self.day_matches(local.date())
            && self.hours.contains(local.hour())
            && self.minutes.contains(local.minute())
            && self.seconds.contains(local.second())
    }

    /// Day-of-month and day-of-week: when both are restricted, either may match; when one is
    /// `*` or `?` (with or without a step), both must, which leaves the other to decide.
    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = self.days_of_month.contains(date.day());
        let dow = self
            .days_of_week
            .contains(date.weekday().num_days_from_sunday());
        if self.days_either {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first occurrence strictly after `after`, evaluated on the wall clock of `tz`.
    ///
    /// A matching wall-clock time that the clock skips fires once at the end of the gap; one
    /// that the clock shows twice fires once, at its first instant. `None` only when the
    /// expression has no match within 400 years of `after`, or beyond the calendar's range.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Mapping wall-clock times to instants this way never goes backwards (gaps collapse to
        // their end, overlaps keep their first pass), so the first matching wall-clock time
        // whose instant is past `after` is the answer. Starting from `after`'s own wall clock,
        // only matches inside a repeated hour can map before `after`; they are skipped.
        let mut local = after.with_timezone(&tz).naive_local();
        loop {
            local = self.next_local_after(local)?;
            let at = resolve_cron(tz, local)?;
            if at > after {
                return Some(at);
            }
        }
    }

    /// The first matching wall-clock time strictly after `local`, to the second. Each step
    /// jumps to the next value allowed in the first field that does not match, coarsest first.
    fn next_local_after(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut t = local
            .with_nanosecond(0)?
            .checked_add_signed(TimeDelta::seconds(1))?;
        let give_up = t.year().checked_add(SEARCH_YEARS)?;
        loop {
            if t.year() > give_up {
                return None;
            }
            let date = t.date();
            if !self.months.contains(t.month()) {
                t = match self.months.next_from(t.month() + 1) {
                    Some(m) => NaiveDate::from_ymd_opt(t.year(), m, 1)?,
                    None => NaiveDate::from_ymd_opt(t.year() + 1, self.months.first()?, 1)?,
                }
                .and_hms_opt(0, 0, 0)?;
                continue;
            }
            if !self.day_matches(date) {
                t = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            let Some(hour) = self.hours.next_from(t.hour()) else {
                t = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            };
            if hour != t.hour() {
                t = date.and_hms_opt(hour, 0, 0)?;
            }
            let Some(minute) = self.minutes.next_from(t.minute()) else {
                t = date
                    .and_hms_opt(hour, 0, 0)?
                    .checked_add_signed(TimeDelta::hours(1))?;
                continue;
            };
            if minute != t.minute() {
                t = date.and_hms_opt(hour, minute, 0)?;
            }
            let Some(second) = self.seconds.next_from(t.second()) else {
                t = date
                    .and_hms_opt(hour, minute, 0)?
                    .checked_add_signed(TimeDelta::minutes(1))?;
                continue;
            };
            return date.and_hms_opt(hour, minute, second);
        }
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Whitespace-separated fields with their byte offsets.
fn split_fields(expr: &str) -> Vec<(usize, &str)> {
    let mut fields = Vec::new();
    let mut start = None;
    for (i, c) in expr.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                fields.push((s, &expr[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        fields.push((s, &expr[s..]));
    }
    fields
}

impl FromStr for CronExpr {
    type Err = RecurrenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
