//! Durations as the API writes them: `"90s"`, `"1h30m"`, `"500ms"`, `"2d"`, or ISO 8601
//! fixed-length durations (`"PT90M"`, `"P1DT2H"`). Calendar units (months, years) have no
//! fixed length and are accepted only where a time zone gives them one (recurring schedules).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A non-negative duration, written as a string (see [`parse_duration`] for the forms).
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
        parse_duration(s)
            .map(Self)
            .map_err(|e| DurationError(e.to_string()))
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

/// One grammar for every duration ontime reads: [`crate::recurrence::parse_duration`].
pub use crate::recurrence::{format_duration, parse_duration};

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
        assert!(
            parse_duration("-5s")
                .unwrap_err()
                .message
                .contains("negative")
        );
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
