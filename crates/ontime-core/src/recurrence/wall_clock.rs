//! From a wall-clock time in a zone to an instant, when the wall clock skips (spring forward)
//! or repeats (fall back). The two policies are described in the module docs of
//! [`super`]; they differ only for times that do not exist.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant cron fires for the wall-clock time `local`: the earlier instant when the time
/// occurs twice, the end of the gap when it does not occur at all (the clock jumped over it,
/// so the job runs as soon as the clock is past it, the way Vixie cron catches up).
pub(crate) fn resolve_cron(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, local),
    }
}

/// The instant calendar arithmetic lands on for `local`: the earlier instant when the time
/// occurs twice; when it does not occur, the time read with the offset in force before the gap,
/// which moves it forward by the gap's length (02:30 → 03:30 across a one-hour gap). This is
/// RFC 5545's rule for recurrences, and what java.time and Temporal ("compatible") do.
pub(crate) fn resolve_compatible(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            let end = gap_end(tz, local)?;
            let before = end.checked_sub_signed(TimeDelta::seconds(1))?;
            let offset = before.with_timezone(&tz).naive_local() - before.naive_utc();
            Some(local.checked_sub_signed(offset)?.and_utc())
        }
    }
}

/// The instant at which the gap that swallows `local` ends, i.e. the zone transition.
///
/// chrono-tz does not expose its transitions, so this bisects on "is the wall clock already
/// past `local`?", which is false before the transition and true from it on. Offsets stay
/// within ±26 hours, so the transition lies within a day of `local` read as UTC; zone data
/// changes on whole seconds, so bisecting to one second is exact.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let past = |secs: i64| -> Option<bool> {
        let t = DateTime::<Utc>::from_timestamp(secs, 0)?;
        Some(t.with_timezone(&tz).naive_local() > local)
    };
    let probe = local.and_utc().timestamp();
    let (mut lo, mut hi) = (probe.checked_sub(26 * 3600)?, probe.checked_add(26 * 3600)?);
    if past(lo)? || !past(hi)? {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if past(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn gap_fires_at_its_end_for_cron_and_shifts_for_arithmetic() {
        let paris = chrono_tz::Europe::Paris;
        // 2024-03-31: 02:00 CET jumps to 03:00 CEST, i.e. at 01:00 UTC.
        assert_eq!(
            resolve_cron(paris, local("2024-03-31T02:30:00")),
            Some(utc("2024-03-31T01:00:00Z"))
        );
        assert_eq!(
            resolve_compatible(paris, local("2024-03-31T02:30:00")),
            Some(utc("2024-03-31T01:30:00Z"))
        );
    }

    #[test]
    fn overlap_takes_the_earlier_instant() {
        let paris = chrono_tz::Europe::Paris;
        // 2024-10-27: 03:00 CEST falls back to 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC.
        assert_eq!(
            resolve_cron(paris, local("2024-10-27T02:30:00")),
            Some(utc("2024-10-27T00:30:00Z"))
        );
        assert_eq!(
            resolve_compatible(paris, local("2024-10-27T02:30:00")),
            Some(utc("2024-10-27T00:30:00Z"))
        );
    }

    #[test]
    fn half_hour_gap_of_lord_howe() {
        let lh = chrono_tz::Australia::Lord_Howe;
        // 2024-10-06: 02:00 +10:30 jumps to 02:30 +11:00, at 15:30 UTC the day before.
        assert_eq!(
            resolve_cron(lh, local("2024-10-06T02:10:00")),
            Some(utc("2024-10-05T15:30:00Z"))
        );
        assert_eq!(
            resolve_compatible(lh, local("2024-10-06T02:10:00")),
            Some(utc("2024-10-05T15:40:00Z"))
        );
    }

    #[test]
    fn whole_skipped_day_of_samoa() {
        // Pacific/Apia skipped 2011-12-30 entirely, moving across the date line.
        let apia = chrono_tz::Pacific::Apia;
        let end = resolve_cron(apia, local("2011-12-30T12:00:00")).unwrap();
        assert_eq!(
            end.with_timezone(&apia).naive_local(),
            local("2011-12-31T00:00:00")
        );
    }
}
