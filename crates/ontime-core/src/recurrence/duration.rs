//! The duration strings ontime accepts wherever a fixed length of time is meant (`every`,
//! `after`, retry delays): `"90s"`, `"1h30m"`, `"500ms"`, `"2d"`, or ISO 8601 `"PT90M"`, `"P1D"`.

use std::time::Duration;

use super::calendar_duration::{CalendarDuration, scale};
use super::error::{RecurrenceError, Syntax, char_offset};

const UNITS: &str = "ns, us, ms, s, m, h, d or w";

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 7 * 86_400_000_000_000,
        _ => return None,
    })
}

/// Parses `<number><unit>` parts, optionally separated by spaces (`"1h30m"`, `"1h 30m"`,
/// `"1.5s"`, `"500ms"`, `"2d"`; units ns, us, ms, s, m, h, d = 24 h, w = 7 d, lower case so that
/// `m` cannot be mistaken for months), or an ISO 8601 duration with fixed-length units only
/// (`"PT90M"`, `"P1DT2H"`, `"P2W"`, `"PT0.5S"`; a day is 24 h here).
///
/// Refuses empty and negative durations, a number without unit, unknown units, values that do
/// not fit, and ISO months or years, whose length depends on the date they start from.
pub fn parse_duration(s: &str) -> Result<Duration, RecurrenceError> {
    let trimmed = s.trim_start();
    let lead = s.len() - trimmed.len();
    let text = trimmed.trim_end();
    let err = |byte: usize, msg: String| {
        RecurrenceError::new(Syntax::Duration, msg).at(char_offset(s, lead + byte))
    };
    if text.is_empty() {
        return Err(RecurrenceError::new(Syntax::Duration, "empty duration"));
    }
    if text.starts_with('-') {
        return Err(err(0, format!("negative duration {text:?} is not allowed")));
    }
    if text.starts_with(['P', 'p']) {
        let iso = CalendarDuration::parse(text).map_err(|e| RecurrenceError {
            syntax: Syntax::Duration,
            ..e.shifted(char_offset(s, lead))
        })?;
        return iso.fixed_length().ok_or_else(|| {
            err(0, format!("{text:?} has months or years, which have no fixed length; use days (P30D) here, or an iso schedule with a time zone"))
        });
    }
    let mut total: u128 = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let num_start = i;
        while i < text.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if i == num_start {
            let c = text[i..].chars().next().unwrap_or(' ');
            return Err(err(
                i,
                format!(
                    "expected a number, found {c:?} (write e.g. \"90s\", \"1h30m\", \"500ms\" or \"PT90M\")"
                ),
            ));
        }
        let unit_start = i;
        while i < text.len() && !(bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b' ')
        {
            i += 1;
        }
        let (number, unit) = (&text[num_start..unit_start], &text[unit_start..i]);
        if unit.is_empty() {
            return Err(err(
                unit_start,
                format!("missing unit after {number} (use {UNITS})"),
            ));
        }
        let Some(unit_len) = unit_nanos(unit) else {
            return Err(err(
                unit_start,
                format!("unknown unit {unit:?} (use {UNITS})"),
            ));
        };
        let nanos = scale(number, unit_len)
            .ok_or_else(|| err(num_start, format!("invalid number {number:?}")))?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| err(num_start, "duration is too large".into()))?;
    }
    let secs =
        u64::try_from(total / 1_000_000_000).map_err(|_| err(0, "duration is too large".into()))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// The canonical form, which [`parse_duration`] reads back exactly: hours, minutes, then
/// seconds with a fraction (`"1h30m"`, `"1m30s"`, `"1.5s"`, `"1h0.5s"`), whole milli-, micro-
/// or nanoseconds below a second (`"500ms"`), and `"0s"` for zero. Days are written as hours,
/// since a day in a duration is always 24 h.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    match (s, nanos) {
        (0, 0) => {}
        (0, n) if out.is_empty() => {
            let (value, unit) = if n % 1_000_000 == 0 {
                (n / 1_000_000, "ms")
            } else if n % 1_000 == 0 {
                (n / 1_000, "us")
            } else {
                (n, "ns")
            };
            out.push_str(&format!("{value}{unit}"));
        }
        (s, 0) => out.push_str(&format!("{s}s")),
        (s, n) => out.push_str(&format!("{s}.{}s", format!("{n:09}").trim_end_matches('0'))),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Duration {
        parse_duration(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn human_forms() {
        assert_eq!(p("90s"), Duration::from_secs(90));
        assert_eq!(p("1h30m"), Duration::from_secs(5400));
        assert_eq!(p(" 1h 30m "), Duration::from_secs(5400));
        assert_eq!(p("500ms"), Duration::from_millis(500));
        assert_eq!(p("1.5s"), Duration::from_millis(1500));
        assert_eq!(p("2d"), Duration::from_secs(172_800));
        assert_eq!(p("1w"), Duration::from_secs(604_800));
        assert_eq!(p("250us"), Duration::from_micros(250));
        assert_eq!(p("0s"), Duration::ZERO);
    }

    #[test]
    fn iso_forms_with_fixed_units() {
        assert_eq!(p("PT90M"), Duration::from_secs(5400));
        assert_eq!(p("P1D"), Duration::from_secs(86_400));
        assert_eq!(p("P1DT2H"), Duration::from_secs(93_600));
        assert_eq!(p("P2W"), Duration::from_secs(1_209_600));
        assert_eq!(p("PT0.5S"), Duration::from_millis(500));
    }

    #[test]
    fn refusals_say_what_and_where() {
        let e = |s: &str| parse_duration(s).unwrap_err();
        assert_eq!(e("").message, "empty duration");
        assert!(e("-5s").message.contains("negative"));
        assert_eq!(
            e("5").to_string(),
            "duration: missing unit after 5 (use ns, us, ms, s, m, h, d or w) at position 1"
        );
        assert_eq!(
            e("1h5x").to_string(),
            "duration: unknown unit \"x\" (use ns, us, ms, s, m, h, d or w) at position 3"
        );
        assert_eq!(e("1H").position, Some(1));
        assert_eq!(e("s").position, Some(0));
        assert_eq!(e("1.2.3s").message, "invalid number \"1.2.3\"");
        assert!(e("99999999999999999999999h").message.contains("too large"));
        let months = e("P1M");
        assert!(
            months.message.contains("no fixed length") && months.message.contains("P30D"),
            "{months}"
        );
        assert!(e("P1Y").message.contains("no fixed length"));
        assert_eq!(
            e("  PT5X").to_string(),
            "duration: unknown designator 'X' (after 'T': H, M, S) at position 5"
        );
        assert!(e("PT").message.contains("'T' must be followed"));
    }

    #[test]
    fn formats_canonically_and_round_trips() {
        for (d, s) in [
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_micros(1500), "1500us"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::from_millis(3_600_500), "1h0.5s"),
            (Duration::from_secs(172_800), "48h"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(format_duration(d), s);
            assert_eq!(p(s), d);
        }
    }
}
