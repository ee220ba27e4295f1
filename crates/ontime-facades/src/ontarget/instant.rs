//! Instants as ontime-ontarget read them: moment.js's `ISO_8601` forms, which are more than
//! RFC 3339 (and more than the native parser takes), so they are read here and handed on as
//! RFC 3339.
//!
//! - Dates: `2016-05-03`, week dates `2016-W18-2` and `2016-W18` (its Monday), ordinal dates
//!   `2016-124`, and their basic forms `20160503`, `2016W182`, `2016W18`, `2016124`; `2016-05`,
//!   `201605` and `2016` alone, which take no time.
//! - Times, after `T` or a space: `11`, `11:22`, `11:22:33`, `11:22:33.5` (or `,5`) after an
//!   extended date, `11`, `1122`, `112233`, `112233.5` after a basic one.
//! - Offsets: `Z` (a space may stand before it), `+02`, `+0200` or `+02:00`. Without one the
//!   time is on the wall clock of the facade's time zone, as the original read it on its
//!   server's.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// The instant `text` names, `None` if it is none of the forms above.
pub fn parse(text: &str, tz: Tz) -> Option<DateTime<Utc>> {
    // moment allows leading white space, nothing after the last field, and only ASCII
    // between (which also keeps every index below on a character boundary).
    let text = text.trim_start();
    if !text.is_ascii() {
        return None;
    }
    let (date_part, time_part) = match text.find(['T', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let date = date(date_part)?;
    let Some(time_part) = time_part else {
        return local(date.day.and_time(NaiveTime::MIN), tz);
    };
    if !date.takes_time {
        return None;
    }
    let (clock, offset) = split_offset(time_part)?;
    let at = date.day.and_time(time(clock, date.extended)?);
    match offset {
        Some(offset) => offset
            .from_local_datetime(&at)
            .single()
            .map(|t| t.with_timezone(&Utc)),
        None => local(at, tz),
    }
}

/// A date, and how the time after it must be written.
struct Date {
    day: NaiveDate,
    /// Whether a time may follow (`2016-05` and `2016` take none).
    takes_time: bool,
    /// Whether it was written with hyphens: its time is then written with colons.
    extended: bool,
}

fn date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let year = i32::try_from(digits(s.get(..4)?)?).ok()?;
    let rest = &s[4..];
    let extended = rest.starts_with('-');
    let rest = if extended { &rest[1..] } else { rest };
    let (day, takes_time) = match (rest.as_bytes(), extended) {
        ([b'W', ..], _) => (week_date(year, &rest[1..], extended)?, true),
        (r, _) if r.len() == 3 => (NaiveDate::from_yo_opt(year, digits(rest)?)?, true),
        (r, true) if r.len() == 5 && r[2] == b'-' => {
            let day = digits(&rest[3..])?;
            (
                NaiveDate::from_ymd_opt(year, digits(&rest[..2])?, day)?,
                true,
            )
        }
        (r, false) if r.len() == 4 => {
            let day = digits(&rest[2..])?;
            (
                NaiveDate::from_ymd_opt(year, digits(&rest[..2])?, day)?,
                true,
            )
        }
        (r, _) if r.len() == 2 => (NaiveDate::from_ymd_opt(year, digits(rest)?, 1)?, false),
        ([], false) if b.len() == 4 => (NaiveDate::from_ymd_opt(year, 1, 1)?, false),
        _ => return None,
    };
    Some(Date {
        day,
        takes_time,
        extended,
    })
}

/// `Www` (Monday of the week) or `Www-D` (`WwwD` in the basic form), after the `W`.
fn week_date(year: i32, s: &str, extended: bool) -> Option<NaiveDate> {
    let week = digits(s.get(..2)?)?;
    let weekday = match (&s[2..], extended) {
        ("", _) => 1,
        (d, true) if d.len() == 2 && d.starts_with('-') => digits(&d[1..])?,
        (d, false) if d.len() == 1 => digits(d)?,
        _ => return None,
    };
    let weekday = match weekday {
        1 => Weekday::Mon,
        2 => Weekday::Tue,
        3 => Weekday::Wed,
        4 => Weekday::Thu,
        5 => Weekday::Fri,
        6 => Weekday::Sat,
        7 => Weekday::Sun,
        _ => return None,
    };
    NaiveDate::from_isoywd_opt(year, week, weekday)
}

/// Splits the offset (`Z`, `±hh`, `±hhmm`, `±hh:mm`) off a time.
fn split_offset(s: &str) -> Option<(&str, Option<FixedOffset>)> {
    if let Some(clock) = s.strip_suffix('Z') {
        return Some((clock.trim_end(), FixedOffset::east_opt(0)));
    }
    let Some(sign_at) = s.find(['+', '-']) else {
        return Some((s, None));
    };
    let offset = &s[sign_at + 1..];
    let compact: String = match offset.as_bytes() {
        [_, _, b':', _, _] => offset.replacen(':', "", 1),
        _ => offset.to_owned(),
    };
    if !matches!(compact.len(), 2 | 4) {
        return None;
    }
    let hours = digits(&compact[..2])?;
    let minutes = if compact.len() == 4 {
        digits(&compact[2..])?
    } else {
        0
    };
    if minutes > 59 {
        return None;
    }
    let secs = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    let secs = if s.as_bytes()[sign_at] == b'-' {
        -secs
    } else {
        secs
    };
    Some((&s[..sign_at], Some(FixedOffset::east_opt(secs)?)))
}

/// `hh[:mm[:ss[.f]]]` after an extended date, `hh[mm[ss[.f]]]` after a basic one.
fn time(s: &str, extended: bool) -> Option<NaiveTime> {
    let (whole, fraction) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let fields: Vec<&str> = if extended {
        whole.split(':').collect()
    } else {
        let mut fields = Vec::new();
        let mut rest = whole;
        while !rest.is_empty() {
            let (field, tail) = rest.split_at(rest.len().min(2));
            fields.push(field);
            rest = tail;
        }
        fields
    };
    if fields.is_empty() || fields.len() > 3 || fields.iter().any(|f| f.len() != 2) {
        return None;
    }
    // A fraction belongs to the seconds only.
    if fraction.is_some() && fields.len() != 3 {
        return None;
    }
    let field = |i: usize| fields.get(i).map_or(Some(0), |f| digits(f));
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            // Nanoseconds: the first nine digits, padded.
            let nine: String = f.chars().chain(std::iter::repeat('0')).take(9).collect();
            nine.parse().ok()?
        }
        Some(_) => return None,
    };
    NaiveTime::from_hms_nano_opt(field(0)?, field(1)?, field(2)?, nanos)
}

/// `at` on the wall clock of `tz`. A time the zone shows twice is its first instant; one it
/// skips (the spring-forward gap) is moved forward by an hour, as JavaScript's `Date` does.
fn local(at: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&at)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(at + chrono::TimeDelta::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

/// The number `s` writes with ASCII digits only.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_forms_moment_reads() {
        let z = Tz::UTC;
        for (text, at) in [
            ("2016-05-03T11:22:33Z", "2016-05-03T11:22:33Z"),
            ("2016-05-03 11:22:33Z", "2016-05-03T11:22:33Z"),
            ("2016-05-03T11:22:33 Z", "2016-05-03T11:22:33Z"),
            ("2016-05-03T11:22:33.250+02:00", "2016-05-03T09:22:33.25Z"),
            ("2016-05-03T11:22:33,5-0130", "2016-05-03T12:52:33.5Z"),
            ("2016-05-03T11:22+02", "2016-05-03T09:22:00Z"),
            ("2016-05-03T11", "2016-05-03T11:00:00Z"),
            ("2016-05-03", "2016-05-03T00:00:00Z"),
            ("  2016-05-03", "2016-05-03T00:00:00Z"),
            ("2016-W18-2", "2016-05-03T00:00:00Z"),
            ("2016-W18", "2016-05-02T00:00:00Z"),
            ("2016-W18-2T11:22:33Z", "2016-05-03T11:22:33Z"),
            ("2016-124", "2016-05-03T00:00:00Z"),
            ("2016-124T11:22Z", "2016-05-03T11:22:00Z"),
            ("2016-05", "2016-05-01T00:00:00Z"),
            ("20160503", "2016-05-03T00:00:00Z"),
            ("20160503T112233Z", "2016-05-03T11:22:33Z"),
            ("20160503T112233.5+0200", "2016-05-03T09:22:33.5Z"),
            ("2016W182", "2016-05-03T00:00:00Z"),
            ("2016W18T1122Z", "2016-05-02T11:22:00Z"),
            ("2016124", "2016-05-03T00:00:00Z"),
            ("201605", "2016-05-01T00:00:00Z"),
            ("2016", "2016-01-01T00:00:00Z"),
        ] {
            assert_eq!(parse(text, z), Some(utc(at)), "{text}");
        }
    }

    #[test]
    fn without_an_offset_the_wall_clock_of_the_zone() {
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(
            parse("2016-05-03T11:22:33", paris),
            Some(utc("2016-05-03T09:22:33Z"))
        );
        assert_eq!(
            parse("2016-05-03", paris),
            Some(utc("2016-05-02T22:00:00Z"))
        );
        // 02:30 does not exist on 2024-03-31 in Paris: an hour later, on the new offset.
        assert_eq!(
            parse("2024-03-31T02:30:00", paris),
            Some(utc("2024-03-31T01:30:00Z"))
        );
    }

    proptest::proptest! {
        #[test]
        fn no_text_makes_it_panic(text in "[0-9WTZ:+,. é-]{0,24}|\\PC{0,24}") {
            let _ = parse(&text, chrono_tz::Europe::Paris);
        }
    }

    #[test]
    fn what_moment_refuses() {
        for text in [
            "",
            "garbage",
            "R/2016-05-03T11:22:33Z/P1D",
            "2016-13-03",
            "2016-02-30",
            "2016-05-03T",
            "2016-05-03T25:00",
            "2016-05-03T11:60",
            "2016-05-03T11:22:33.Z",
            "2016-05-03T11:22Zz",
            "2016-05-03T11:22+2",
            "2016-05-03T11:22+02:60",
            "2016-05-03T1122",
            "20160503T11:22",
            "2016-05T11:22",
            "2016T11",
            "2016-W54",
            "2016-W18-8",
            "2016-367",
            "16-05-03",
            "2016-05-03x",
            "２０１６-05-03",
        ] {
            assert_eq!(parse(text, Tz::UTC), None, "{text:?}");
        }
    }
}
