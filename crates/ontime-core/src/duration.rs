//! Durations as the API writes them: `"90s"`, `"1h30m"`, `"500ms"`, `"2d"`, or ISO 8601
//! fixed-length durations (`"PT90M"`, `"P1DT2H"`). Calendar units (months, years) have no
//! fixed length and are accepted only where a time zone gives them one (recurring schedules).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A non-negative duration with millisecond resolution, written as a string.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "1h30m")]
pub struct HumanDuration(Duration);

impl HumanDuration {
    pub const ZERO: Self = Self(Duration::ZERO);

    pub fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    pub fn from_secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }

    pub fn get(self) -> Duration {
        self.0
    }

    pub fn as_millis(self) -> u64 {
        self.0.as_millis().min(u64::MAX as u128) as u64
    }

    /// As a chrono duration, for arithmetic on instants.
    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::milliseconds(self.as_millis().min(i64::MAX as u64) as i64)
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(pub String);

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(Self)
    }
}

impl TryFrom<String> for HumanDuration {
    type Error = DurationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> String {
        d.to_string()
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Parses `"90s"`, `"1h30m"`, `"1h 30m"`, `"500ms"`, `"2d"`, `"1.5s"` or an ISO 8601 duration with
/// fixed-length units only (`"PT90M"`, `"P2DT3H"`, `"P1W"`).
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError("empty duration".into()));
    }
    if s.starts_with('-') {
        return Err(DurationError(format!(
            "negative duration {input:?} is not allowed"
        )));
    }
    if s.starts_with('P') || s.starts_with('p') {
        return parse_iso(s).ok_or_else(|| {
            DurationError(format!(
                "invalid ISO 8601 duration {input:?} (fixed-length units only: W, D, H, M, S, e.g. PT90M)"
            ))
        });
    }
    parse_units(s).ok_or_else(|| {
        DurationError(format!(
            "invalid duration {input:?}; write e.g. \"90s\", \"1h30m\", \"500ms\" or \"PT90M\""
        ))
    })
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" | "sec" | "secs" => 1_000_000_000,
        "m" | "min" | "mins" => 60_000_000_000,
        "h" | "hr" | "hrs" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 7 * 86_400_000_000_000,
        _ => return None,
    })
}

/// `<number><unit>` repeated, spaces allowed between parts; numbers may have a fraction.
fn parse_units(s: &str) -> Option<Duration> {
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_len == 0 {
            return None;
        }
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == ' ')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        total = total.checked_add(scale(num, unit_nanos(unit)?)?)?;
        rest = after;
    }
    nanos_to_duration(total)
}

/// `number × unit` in nanoseconds, exact for decimal fractions down to a nanosecond.
fn scale(num: &str, unit: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut value = int.checked_mul(unit)?;
    let mut place = unit;
    for d in frac.chars() {
        place /= 10;
        value = value.checked_add(u128::from(d.to_digit(10)?) * place)?;
    }
    Some(value)
}

fn parse_iso(s: &str) -> Option<Duration> {
    let body = &s[1..];
    let (date, time) = match body.split_once(['T', 't']) {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (body, None),
    };
    let mut total: u128 = 0;
    let mut any = false;
    for (part, units) in [
        (date, &[('W', 7 * 86_400), ('D', 86_400)][..]),
        (time.unwrap_or(""), &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut rest = part;
        let mut allowed = units;
        while !rest.is_empty() {
            let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))?;
            let (num, after) = rest.split_at(num_len);
            let unit = after.chars().next()?.to_ascii_uppercase();
            let pos = allowed.iter().position(|(u, _)| *u == unit)?;
            let secs = allowed[pos].1 as u128;
            total = total.checked_add(scale(&num.replace(',', "."), secs * 1_000_000_000)?)?;
            allowed = &allowed[pos + 1..];
            rest = &after[1..];
            any = true;
        }
    }
    if !any {
        return None;
    }
    nanos_to_duration(total)
}

fn nanos_to_duration(nanos: u128) -> Option<Duration> {
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Canonical form: `"1h30m"`, `"1m30s"`, `"500ms"`, `"1.5s"`, `"0s"`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let (s, milli) = (rem / 1000, rem % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    match (s, milli) {
        (0, 0) => {}
        (0, ms) if out.is_empty() => out.push_str(&format!("{ms}ms")),
        (s, 0) => out.push_str(&format!("{s}s")),
        (s, ms) => out.push_str(&format!(
            "{s}.{}s",
            format!("{ms:03}").trim_end_matches('0')
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Duration {
        parse_duration(s).unwrap()
    }

    #[test]
    fn human_forms() {
        assert_eq!(p("90s"), Duration::from_secs(90));
        assert_eq!(p("1h30m"), Duration::from_secs(5400));
        assert_eq!(p("1h 30m"), Duration::from_secs(5400));
        assert_eq!(p("500ms"), Duration::from_millis(500));
        assert_eq!(p("1.5s"), Duration::from_millis(1500));
        assert_eq!(p("2d"), Duration::from_secs(172_800));
        assert_eq!(p("0s"), Duration::ZERO);
    }

    #[test]
    fn iso_forms() {
        assert_eq!(p("PT90M"), Duration::from_secs(5400));
        assert_eq!(p("P1DT2H"), Duration::from_secs(93_600));
        assert_eq!(p("P1W"), Duration::from_secs(604_800));
        assert_eq!(p("PT0.5S"), Duration::from_millis(500));
    }

    #[test]
    fn refusals() {
        for bad in [
            "", "-5s", "5", "5x", "s", "P", "PT", "P1M", "P1Y", "PT1H2X", "1h-2m", "PT5M1H",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_duration("-5s").unwrap_err().0.contains("negative"));
    }

    #[test]
    fn formats_canonically_and_round_trips() {
        for (d, s) in [
            (5_400_000, "1h30m"),
            (90_000, "1m30s"),
            (500, "500ms"),
            (1500, "1.5s"),
            (0, "0s"),
            (3_600_000, "1h"),
        ] {
            let d = Duration::from_millis(d);
            assert_eq!(format_duration(d), s);
            assert_eq!(p(s), d);
        }
    }
}
