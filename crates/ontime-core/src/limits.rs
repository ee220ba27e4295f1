//! The bounds every timer lives within: the latest instant ontime represents, and the
//! operator's floor on how often a timer may fire.
//!
//! Instants: RFC 3339 writes years with four digits, so ontime computes and accepts nothing
//! after [`LATEST`] (9999-12-31T23:59:59.999Z). An instant a client gives past it is refused
//! at validation; an occurrence computed past it is no occurrence (the schedule ends there).
//! Every arithmetic step on instants goes through [`add`] and friends, which answer `None`
//! instead of panicking or leaving the range.
//!
//! Intervals: [`Limits::min_interval`] is the shortest gap between two scheduled calls of one
//! timer that `every`, an ISO 8601 repetition and a callback's `nextExecuteAt` may ask for.
//! It is configuration (`--min-interval`), passed in: this crate reads none.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The latest instant ontime computes or accepts: 9999-12-31T23:59:59.999Z.
pub const LATEST: DateTime<Utc> = match DateTime::from_timestamp_millis(253_402_300_799_999) {
    Some(t) => t,
    None => panic!("9999-12-31T23:59:59.999Z is a valid instant"),
};

/// The longest duration a client may give (`after`, `every`, `max_lateness`): from the Unix
/// epoch to [`LATEST`]. Longer ones land past it from any present-day instant.
pub const MAX_SPAN: Duration = Duration::from_millis(253_402_300_799_999);

/// The default floor on intervals: one call a second per timer.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The lowest floor an operator may configure: below a millisecond, the scheduler's own
/// resolution, a floor would not protect anything.
pub const LOWEST_MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The operator's limits on what a timer may ask for; validation takes them as an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The shortest interval between two scheduled calls of one timer (`every`, the period
    /// of an ISO 8601 repetition, the gap a callback asks for with `nextExecuteAt`).
    pub min_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            min_interval: DEFAULT_MIN_INTERVAL,
        }
    }
}

impl Limits {
    /// Limits with this floor, refused below [`LOWEST_MIN_INTERVAL`] or above a day (a floor
    /// that high would refuse daily schedules, which is a configuration mistake).
    pub fn with_min_interval(min_interval: Duration) -> Result<Self, String> {
        if min_interval < LOWEST_MIN_INTERVAL || min_interval > Duration::from_secs(86_400) {
            return Err(format!(
                "min_interval must be between 1ms and 1d, not {}",
                crate::duration::format_duration(min_interval)
            ));
        }
        Ok(Self { min_interval })
    }

    /// The floor as a chrono duration, for arithmetic on instants.
    pub fn min_gap(&self) -> TimeDelta {
        TimeDelta::from_std(self.min_interval).unwrap_or(TimeDelta::seconds(1))
    }
}

/// `at` if it is within range (at or before [`LATEST`]).
pub fn bounded(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (at <= LATEST).then_some(at)
}

/// `at + delta`, or `None` past [`LATEST`] (or before chrono's range).
pub fn add(at: DateTime<Utc>, delta: TimeDelta) -> Option<DateTime<Utc>> {
    at.checked_add_signed(delta).and_then(bounded)
}

/// `at + d` for a standard duration, or `None` past [`LATEST`].
pub fn add_std(at: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    add(at, TimeDelta::from_std(d).ok()?)
}

/// `at - delta`, or `None` out of chrono's range.
pub fn sub(at: DateTime<Utc>, delta: TimeDelta) -> Option<DateTime<Utc>> {
    at.checked_sub_signed(delta)
}

/// Whether an instant a client gave is representable; the error says which field and why.
pub fn check_instant(field: &str, at: DateTime<Utc>) -> Result<(), crate::error::ValidationError> {
    if at > LATEST {
        return Err(crate::error::ValidationError::invalid(
            field,
            format!("{field} is after 9999-12-31T23:59:59.999Z, the latest instant ontime accepts"),
        ));
    }
    Ok(())
}

/// Whether a duration a client gave can be added to a present-day instant.
pub fn check_span(field: &str, d: Duration) -> Result<(), crate::error::ValidationError> {
    if d > MAX_SPAN {
        return Err(crate::error::ValidationError::invalid(
            field,
            format!(
                "{field} is too long: it would land after 9999-12-31T23:59:59.999Z, the latest \
                 instant ontime accepts"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_instant_is_the_last_millisecond_of_9999() {
        assert_eq!(
            LATEST.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            TimeDelta::from_std(MAX_SPAN).unwrap(),
            LATEST - DateTime::UNIX_EPOCH
        );
    }

    #[test]
    fn arithmetic_stops_at_the_bound_without_panicking() {
        assert_eq!(add(LATEST, TimeDelta::milliseconds(1)), None);
        assert_eq!(add(LATEST, TimeDelta::zero()), Some(LATEST));
        assert_eq!(add(DateTime::<Utc>::MAX_UTC, TimeDelta::MAX), None);
        assert_eq!(add_std(LATEST, Duration::from_secs(u64::MAX)), None);
        assert_eq!(sub(DateTime::<Utc>::MIN_UTC, TimeDelta::seconds(1)), None);
    }

    #[test]
    fn floors_are_bounded() {
        assert_eq!(Limits::default().min_interval, Duration::from_secs(1));
        assert!(Limits::with_min_interval(Duration::from_millis(100)).is_ok());
        assert!(Limits::with_min_interval(Duration::from_micros(10)).is_err());
        assert!(Limits::with_min_interval(Duration::from_secs(90_000)).is_err());
    }
}
