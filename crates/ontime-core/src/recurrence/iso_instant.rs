//! Instants inside ISO 8601 repeating intervals: RFC 3339 with `Z` or an offset, or a local
//! date-time without one, read on the wall clock of the timer's zone.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::error::{RecurrenceError, Syntax};
use super::wall_clock::resolve_compatible;

/// Parses `2016-05-03T11:22:33Z`, `2016-05-03T11:22:33.5+02:00`, `2016-05-03T11:22+0530`,
/// `2016-05-03T11:22:33` (no offset: read in `tz`) or `2016-05-03` (midnight in `tz`).
///
/// A local time that `tz` skips is moved forward by the gap, one it shows twice is its first
/// instant, like every other wall-clock reading of calendar arithmetic (see [`super`]).
/// Errors carry positions relative to `s`.
pub(crate) fn parse_instant(s: &str, tz: Tz) -> Result<DateTime<Utc>, RecurrenceError> {
    let invalid = |why: String| {
        RecurrenceError::new(
            Syntax::Iso8601,
            format!("invalid date-time {s:?}: {why} (write e.g. 2016-05-03T11:22:33Z, 2016-05-03T11:22:33+02:00, or 2016-05-03T11:22:33 for the timer's time zone)"),
        )
        .at(0)
    };
    let (local_part, offset) = split_offset(s).map_err(invalid)?;
    let local = parse_local(local_part).map_err(invalid)?;
    match offset {
        Some(offset) => match offset.from_local_datetime(&local).single() {
            Some(t) => Ok(t.with_timezone(&Utc)),
            None => Err(invalid("out of the supported range".into())),
        },
        None => resolve_compatible(tz, local)
            .ok_or_else(|| invalid("out of the supported range".into())),
    }
}

/// Splits a trailing `Z` or `±hh[:mm]` off the date-time. The sign is searched only after
/// the `T`, since the date itself is full of hyphens.
fn split_offset(s: &str) -> Result<(&str, Option<FixedOffset>), String> {
    if let Some(rest) = s.strip_suffix(['Z', 'z']) {
        return Ok((rest, FixedOffset::east_opt(0)));
    }
    let Some(t) = s.find(['T', 't']) else {
        return Ok((s, None));
    };
    let Some(sign_at) = s[t..].find(['+', '-']).map(|i| t + i) else {
        return Ok((s, None));
    };
    let digits: String = s[sign_at + 1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return Err(format!("offset {:?} is not ±hh:mm", &s[sign_at..]));
    }
    let hours: i32 = digits[..2]
        .parse()
        .map_err(|_| "bad offset hours".to_string())?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..]
            .parse()
            .map_err(|_| "bad offset minutes".to_string())?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return Err(format!("offset {:?} is out of range", &s[sign_at..]));
    }
    let secs = (hours * 3600 + minutes * 60) * if s.as_bytes()[sign_at] == b'-' { -1 } else { 1 };
    Ok((&s[..sign_at], FixedOffset::east_opt(secs)))
}

fn parse_local(s: &str) -> Result<NaiveDateTime, String> {
    let s = s.replacen('t', "T", 1);
    if !s.contains('T') {
        return NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(|d| d.and_time(Default::default()))
            .map_err(|e| e.to_string());
    }
    NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M"))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn offsets_and_local_times() {
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(
            parse_instant("2016-05-03T11:22:33Z", paris).unwrap(),
            utc("2016-05-03T11:22:33Z")
        );
        assert_eq!(
            parse_instant("2016-05-03T11:22:33.25+02:00", paris).unwrap(),
            utc("2016-05-03T09:22:33.25Z")
        );
        assert_eq!(
            parse_instant("2016-05-03T11:22-0530", paris).unwrap(),
            utc("2016-05-03T16:52:00Z")
        );
        assert_eq!(
            parse_instant("2016-05-03T11:22:33", paris).unwrap(),
            utc("2016-05-03T09:22:33Z")
        );
        assert_eq!(
            parse_instant("2016-05-03", paris).unwrap(),
            utc("2016-05-02T22:00:00Z")
        );
        // In the spring-forward gap: moved forward by the gap's hour.
        assert_eq!(
            parse_instant("2024-03-31T02:30:00", paris).unwrap(),
            utc("2024-03-31T01:30:00Z")
        );
    }

    #[test]
    fn refusals_say_what_to_write() {
        for bad in [
            "2016-13-03T11:22:33Z",
            "2016-02-30",
            "yesterday",
            "2016-05-03T11:22:33+2",
            "2016-05-03T25:00:00",
            "2016-05-03T11:22:33+25:00",
        ] {
            let e = parse_instant(bad, Tz::UTC).unwrap_err();
            assert!(
                e.message.contains("invalid date-time") && e.message.contains("write e.g."),
                "{bad}: {e}"
            );
            assert_eq!(e.position, Some(0));
        }
    }
}
