//! ISO 8601 durations with calendar units (`P1Y2M10DT2H30M`, `P2W`, `PT0.5S`), and adding
//! them to a time in a zone. The rules (month-end clamping, date part on the wall clock, time
//! part in absolute time, `k × duration` rather than `k` additions) are in the
//! [module docs](super).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Months, TimeDelta, Utc};
use chrono_tz::Tz;

use super::error::{RecurrenceError, Syntax, char_offset};
use super::wall_clock::resolve_compatible;

/// An ISO 8601 duration: years, months, weeks and days on the calendar, then an exact time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CalendarDuration {
    years: u32,
    months: u32,
    weeks: u32,
    days: u32,
    /// Hours, minutes and seconds: they have a fixed length, so one exact span holds them.
    time: Duration,
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

impl CalendarDuration {
    /// Parses `PnYnMnWnDTnHnMnS` with any subset of the components, in that order (`P1Y2M10DT2H30M`,
    /// `PT90M`, `P2W`, `P1W3D`). The last component may have a fraction (`PT0.5S`, `PT1,5H`) if it
    /// is hours, minutes or seconds: a fraction of a month has no meaning. Designators may be
    /// lower case. Negative durations are refused.
    pub fn parse(s: &str) -> Result<CalendarDuration, RecurrenceError> {
        let err = |byte: usize, msg: String| {
            RecurrenceError::new(Syntax::Iso8601, msg)
                .at(char_offset(s, byte))
                .in_field("duration")
        };
        if s.is_empty() {
            return Err(
                RecurrenceError::new(Syntax::Iso8601, "empty duration").in_field("duration")
            );
        }
        if s.starts_with('-') {
            return Err(err(0, format!("negative duration {s:?} is not allowed")));
        }
        if !s.starts_with(['P', 'p']) {
            return Err(err(
                0,
                format!("invalid duration {s:?}: it must start with 'P' (e.g. P1D, PT90M)"),
            ));
        }
        let mut d = CalendarDuration::default();
        let mut time_nanos: u128 = 0;
        // Designators in the order ISO 8601 writes them; `T` switches to the time ones.
        const ORDER: [char; 7] = ['Y', 'M', 'W', 'D', 'H', 'M', 'S'];
        let mut next = 0; // index in ORDER of the first designator still allowed
        let mut in_time = false;
        let mut any = false;
        let mut fraction_at: Option<usize> = None;
        let mut i = 1;
        let bytes = s.as_bytes();
        while i < s.len() {
            if bytes[i].eq_ignore_ascii_case(&b'T') {
                if in_time {
                    return Err(err(i, "'T' appears twice".into()));
                }
                in_time = true;
                next = 4;
                if i + 1 == s.len() {
                    return Err(err(
                        i,
                        "'T' must be followed by hours, minutes or seconds".into(),
                    ));
                }
                i += 1;
                continue;
            }
            let num_start = i;
            while i < s.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b',')
            {
                i += 1;
            }
            let number = &s[num_start..i];
            let Some(unit) = s[i..].chars().next() else {
                return Err(err(
                    num_start,
                    format!("number {number} has no designator after it"),
                ));
            };
            if number.is_empty() {
                let msg = if unit.is_ascii_alphabetic() {
                    format!("missing number before {unit:?}")
                } else {
                    format!("unexpected character {unit:?}")
                };
                return Err(err(i, msg));
            }
            if let Some(at) = fraction_at {
                return Err(err(
                    at,
                    "only the last component may have a fraction".into(),
                ));
            }
            let upper = unit.to_ascii_uppercase();
            let Some(slot) = ORDER
                .iter()
                .enumerate()
                .skip(if in_time { 4 } else { 0 })
                .take(if in_time { 3 } else { 4 })
                .find(|(_, c)| **c == upper)
                .map(|(k, _)| k)
            else {
                let hint = if in_time {
                    "after 'T': H, M, S"
                } else {
                    "before 'T': Y, M, W, D; put hours, minutes and seconds after 'T'"
                };
                return Err(err(i, format!("unknown designator {unit:?} ({hint})")));
            };
            if slot < next {
                return Err(err(
                    i,
                    format!(
                        "designator {unit:?} is repeated or out of order (order: PnYnMnWnDTnHnMnS)"
                    ),
                ));
            }
            next = slot + 1;
            let fractional = number.contains(['.', ',']);
            if fractional {
                if slot < 4 {
                    return Err(err(
                        num_start,
                        "fractions are only allowed on hours, minutes and seconds".into(),
                    ));
                }
                fraction_at = Some(num_start);
            }
            let too_large = || err(num_start, format!("value {number} is too large"));
            if slot < 4 {
                let v: u32 = number.parse().map_err(|_| too_large())?;
                match slot {
                    0 => d.years = v,
                    1 => d.months = v,
                    2 => d.weeks = v,
                    _ => d.days = v,
                }
            } else {
                let unit_secs = [3600, 60, 1][slot - 4];
                let nanos = scale(number, unit_secs * NANOS_PER_SEC)
                    .ok_or_else(|| err(num_start, format!("invalid number {number:?}")))?;
                time_nanos = time_nanos.checked_add(nanos).ok_or_else(too_large)?;
            }
            any = true;
            i += unit.len_utf8();
        }
        if !any {
            return Err(err(
                0,
                format!("invalid duration {s:?}: no components after 'P' (e.g. P1D, PT90M)"),
            ));
        }
        let secs = u64::try_from(time_nanos / NANOS_PER_SEC)
            .map_err(|_| err(0, "duration is too large".into()))?;
        d.time = Duration::new(secs, (time_nanos % NANOS_PER_SEC) as u32);
        Ok(d)
    }

    /// A duration of exact time only (`PT…`).
    pub fn from_time(time: Duration) -> Self {
        Self {
            time,
            ..Self::default()
        }
    }

    /// Whether every component is zero: such a duration cannot space out repetitions.
    pub fn is_zero(&self) -> bool {
        self.years == 0
            && self.months == 0
            && self.weeks == 0
            && self.days == 0
            && self.time.is_zero()
    }

    /// The length when read with fixed-length units only (a week is 7 × 24 h, a day 24 h);
    /// `None` when it has years or months, whose length depends on where they start.
    pub fn fixed_length(&self) -> Option<Duration> {
        if self.years != 0 || self.months != 0 {
            return None;
        }
        let days = u64::from(self.weeks) * 7 + u64::from(self.days);
        self.time
            .checked_add(Duration::from_secs(days.checked_mul(86_400)?))
    }

    /// `start` plus this duration.
    pub fn add_to(&self, start: DateTime<Tz>) -> Option<DateTime<Tz>> {
        self.shift(start, 1)
    }

    /// `start` plus `n` times this duration, computed in one step (`start + n·d`, not `n`
    /// additions), so that month-end clamping does not accumulate: Jan 31 + 2 × P1M is Mar 31.
    pub fn add_times(&self, start: DateTime<Tz>, n: u64) -> Option<DateTime<Tz>> {
        self.shift(start, i64::try_from(n).ok()?)
    }

    /// `end` minus `n` times this duration, computed in one step like [`Self::add_times`].
    pub fn sub_times(&self, end: DateTime<Tz>, n: u64) -> Option<DateTime<Tz>> {
        self.shift(end, i64::try_from(n).ok()?.checked_neg()?)
    }

    /// `at + n·self` for a signed `n`: calendar part on the wall clock, then the time part.
    fn shift(&self, at: DateTime<Tz>, n: i64) -> Option<DateTime<Tz>> {
        let tz = at.timezone();
        let months = (i64::from(self.years) * 12 + i64::from(self.months)).checked_mul(n)?;
        let days = (i64::from(self.weeks) * 7 + i64::from(self.days)).checked_mul(n)?;
        let mut instant = at.with_timezone(&Utc);
        // Without a calendar part the wall clock is not consulted at all, so that PT1H from the
        // second pass of a repeated hour stays an exact hour later.
        if months != 0 || days != 0 {
            let local = at.naive_local();
            let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
            let date = if months >= 0 {
                local.date().checked_add_months(m)?
            } else {
                local.date().checked_sub_months(m)?
            };
            let date = date.checked_add_signed(TimeDelta::try_days(days)?)?;
            instant = resolve_compatible(tz, date.and_time(local.time()))?;
        }
        let nanos = i128::try_from(self.time.as_nanos())
            .ok()?
            .checked_mul(i128::from(n))?;
        let secs = i64::try_from(nanos.div_euclid(NANOS_PER_SEC as i128)).ok()?;
        let delta = TimeDelta::new(secs, nanos.rem_euclid(NANOS_PER_SEC as i128) as u32)?;
        Some(instant.checked_add_signed(delta)?.with_timezone(&tz))
    }

    /// A rough length in nanoseconds (a month as 1/12 of a Gregorian year), to guess which
    /// occurrence is near an instant before checking exactly.
    pub(crate) fn approx_nanos(&self) -> i128 {
        let months = i128::from(self.years) * 12 + i128::from(self.months);
        let days = i128::from(self.weeks) * 7 + i128::from(self.days);
        (months * 2_629_746 + days * 86_400) * NANOS_PER_SEC as i128 + self.time.as_nanos() as i128
    }
}

/// `number × unit` in nanoseconds, exact for decimal fractions down to a nanosecond.
pub(crate) fn scale(number: &str, unit_nanos: u128) -> Option<u128> {
    let normalized = number.replace(',', ".");
    let (int, frac) = normalized.split_once('.').unwrap_or((&normalized, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut value = int.checked_mul(unit_nanos)?;
    let mut place = unit_nanos;
    for digit in frac.bytes() {
        place /= 10;
        value = value.checked_add(u128::from(digit - b'0') * place)?;
    }
    Some(value)
}

impl FromStr for CalendarDuration {
    type Err = RecurrenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for CalendarDuration {
    /// Canonical ISO 8601: `P1Y2M10DT2H30M`, `PT0.5S`, `PT0S` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        for (v, unit) in [
            (self.years, 'Y'),
            (self.months, 'M'),
            (self.weeks, 'W'),
            (self.days, 'D'),
        ] {
            if v != 0 {
                write!(f, "{v}{unit}")?;
            }
        }
        let secs = self.time.as_secs();
        let nanos = self.time.subsec_nanos();
        if self.time.is_zero() {
            return if self.is_zero() {
                f.write_str("T0S")
            } else {
                Ok(())
            };
        }
        f.write_str("T")?;
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        if h != 0 {
            write!(f, "{h}H")?;
        }
        if m != 0 {
            write!(f, "{m}M")?;
        }
        match (s, nanos) {
            (0, 0) => Ok(()),
            (s, 0) => write!(f, "{s}S"),
            (s, n) => write!(f, "{s}.{}S", format!("{n:09}").trim_end_matches('0')),
        }
    }
}
