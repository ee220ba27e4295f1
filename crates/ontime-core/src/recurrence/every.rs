//! Fixed intervals: `anchor + k·interval` in absolute time.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::duration::format_duration;
use super::error::{RecurrenceError, Syntax};

/// A fixed interval anchored at an instant: occurrence `k` (from 0) is `anchor + k·interval`.
///
/// The interval is absolute time, so daylight-saving changes do not move it: "every 24h"
/// drifts by an hour on the wall clock across a change, unlike `P1D` in an
/// [`IsoRepeat`](super::IsoRepeat) or a daily cron. Occurrences are computed from the anchor,
/// never by adding to the previous one, so they never drift however late they are asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Every {
    anchor: DateTime<Utc>,
    interval: Duration,
}

impl Every {
    /// Refuses a zero interval (every occurrence would be the same instant) and one too long
    /// to add to an instant.
    pub fn new(anchor: DateTime<Utc>, interval: Duration) -> Result<Every, RecurrenceError> {
        if interval.is_zero() {
            return Err(RecurrenceError::new(
                Syntax::Every,
                "the interval must not be zero",
            ));
        }
        if TimeDelta::from_std(interval).is_err() {
            return Err(RecurrenceError::new(
                Syntax::Every,
                format!("the interval {} is too long", format_duration(interval)),
            ));
        }
        Ok(Every { anchor, interval })
    }

    /// The instant of occurrence 0.
    pub fn anchor(&self) -> DateTime<Utc> {
        self.anchor
    }

    /// The interval between occurrences.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Occurrence number `k`; `None` beyond the calendar's range.
    pub fn nth(&self, k: u64) -> Option<DateTime<Utc>> {
        let nanos = i128::try_from(self.interval.as_nanos())
            .ok()?
            .checked_mul(i128::from(k))?;
        let delta = TimeDelta::new(
            i64::try_from(nanos / 1_000_000_000).ok()?,
            (nanos % 1_000_000_000) as u32,
        )?;
        self.anchor.checked_add_signed(delta)
    }

    /// The first occurrence strictly after `after`, with its number: the anchor itself when
    /// `after` is before it.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<(u64, DateTime<Utc>)> {
        if after < self.anchor {
            return Some((0, self.anchor));
        }
        // Exact in nanoseconds over the whole calendar range (i64 nanoseconds stop at 292 years).
        let elapsed = after - self.anchor;
        let elapsed =
            i128::from(elapsed.num_seconds()) * 1_000_000_000 + i128::from(elapsed.subsec_nanos());
        let k = u64::try_from(elapsed / self.interval.as_nanos() as i128 + 1).ok()?;
        Some((k, self.nth(k)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn counts_from_the_anchor_strictly_after() {
        let e = Every::new(utc("2024-01-01T00:00:00Z"), Duration::from_secs(90)).unwrap();
        assert_eq!(
            e.next_after(utc("2023-12-31T00:00:00Z")),
            Some((0, utc("2024-01-01T00:00:00Z")))
        );
        assert_eq!(
            e.next_after(utc("2024-01-01T00:00:00Z")),
            Some((1, utc("2024-01-01T00:01:30Z")))
        );
        assert_eq!(
            e.next_after(utc("2024-01-01T00:01:29.999Z")),
            Some((1, utc("2024-01-01T00:01:30Z")))
        );
        assert_eq!(
            e.next_after(utc("2024-01-01T00:01:30Z")),
            Some((2, utc("2024-01-01T00:03:00Z")))
        );
        assert_eq!(e.nth(40), Some(utc("2024-01-01T01:00:00Z")));
    }

    #[test]
    fn ignores_daylight_saving() {
        // Across Paris's spring-forward night, 24h later is 01:00 on the wall clock, not 00:00.
        let e = Every::new(utc("2024-03-30T23:00:00Z"), Duration::from_secs(86_400)).unwrap();
        assert_eq!(
            e.next_after(utc("2024-03-30T23:00:00Z")),
            Some((1, utc("2024-03-31T23:00:00Z")))
        );
    }

    #[test]
    fn sub_second_intervals() {
        let e = Every::new(utc("2024-01-01T00:00:00Z"), Duration::from_millis(250)).unwrap();
        assert_eq!(
            e.next_after(utc("2024-01-01T00:00:01.1Z")),
            Some((5, utc("2024-01-01T00:00:01.25Z")))
        );
    }

    #[test]
    fn refusals() {
        let anchor = utc("2024-01-01T00:00:00Z");
        assert!(
            Every::new(anchor, Duration::ZERO)
                .unwrap_err()
                .to_string()
                .contains("must not be zero")
        );
        assert!(
            Every::new(anchor, Duration::from_secs(u64::MAX))
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
        let far = Every::new(anchor, Duration::from_secs(86_400 * 365 * 1000)).unwrap();
        assert_eq!(far.next_after(DateTime::<Utc>::MAX_UTC), None);
    }
}
