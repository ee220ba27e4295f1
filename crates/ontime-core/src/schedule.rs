//! When a timer fires: the `schedule` object of the native API.
//!
//! Exactly one kind is given: `at` (an instant) or `after` (a delay from when the command was
//! accepted) for a one-time timer; `cron`, `every` or `iso` for a recurring one. The other
//! fields refine recurring kinds (`timezone`, `start_at`, `end_at`, `max_runs`, `misfire`,
//! `overlap`) or any kind (`max_lateness`). The math lives in [`crate::recurrence`]; this
//! module validates the document and answers "when is the next occurrence".

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::duration::HumanDuration;
use crate::error::ValidationError;
use crate::limits;
use crate::recurrence::{self, CronExpr, Every, IsoRepeat, RecurrenceError};

mod validate;

/// How late a scheduled occurrence may fire before it counts as missed (ontime was down, or
/// paused, or far behind) and the [`Misfire`] policy decides what to do with it: an
/// occurrence is missed when it is due more than this before the instant it comes to fire.
pub const MISFIRE_THRESHOLD: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// The most missed occurrences `misfire: fire_all` makes up for at once; older ones are
/// skipped, so a long outage of an every-second timer cannot flood its target.
pub const MAX_CATCH_UP: usize = 100;

/// The `schedule` of a timer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Fire once at this instant (RFC 3339). An instant in the past fires at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-12-01T15:30:00Z")]
    pub at: Option<DateTime<Utc>>,
    /// Fire once, this long after the command was accepted (`"90s"`, `"1h30m"`, `"PT90M"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "90s")]
    pub after: Option<HumanDuration>,
    /// A cron expression: 6 fields with seconds, classic 5 fields, or `@daily` and friends;
    /// evaluated on the wall clock of `timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "0 30 9 * * MON-FRI")]
    pub cron: Option<String>,
    /// A fixed interval (`"30s"`, `"1h30m"`, `"PT90M"`) from `start_at`, or from creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "1h30m")]
    pub every: Option<HumanDuration>,
    /// An ISO 8601 repeating interval: `R5/2026-12-01T00:00:00Z/P1D`, `R/P1M/2027-01-01T00:00:00Z`
    /// or `R3/2026-12-01T00:00:00Z/2026-12-01T06:00:00Z`; `R` alone repeats without end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "R5/2026-12-01T00:00:00Z/P1D")]
    pub iso: Option<String>,
    /// IANA time zone of `cron` and of calendar units in `iso` (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Europe/Paris")]
    pub timezone: Option<String>,
    /// No occurrence before this instant (`every` counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start_at: Option<DateTime<Utc>>,
    /// No occurrence after this instant; the timer then completes (alias `stop_at`).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "stop_at")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end_at: Option<DateTime<Utc>>,
    /// The timer completes after this many scheduled runs (triggered runs do not count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_runs: Option<u64>,
    /// What to do with occurrences missed while ontime was down, behind, or paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfire: Option<Misfire>,
    /// Do not make a call later than this after its due time; it is logged as `expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "30s")]
    pub max_lateness: Option<HumanDuration>,
    /// What to do when an occurrence falls due while the previous one is still being
    /// delivered or retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<Overlap>,
}

/// The misfire policy of a recurring timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// One catch-up call for the latest missed occurrence, then the schedule continues.
    #[default]
    FireOnce,
    /// No call for missed occurrences (one `skipped` log entry); the schedule continues.
    Skip,
    /// A call for every missed occurrence, at most [`MAX_CATCH_UP`] of them.
    FireAll,
}

/// The overlap policy of a recurring timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Occurrences run side by side.
    #[default]
    Allow,
    /// An occurrence due while another is in flight is not called (logged as `skipped`).
    Skip,
}

/// Which kind of schedule a [`Schedule`] is: the name of the field that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    At,
    After,
    Cron,
    Every,
    Iso,
}

/// A recurring schedule, parsed: the series of instants before `start_at`/`end_at` bound it.
#[derive(Debug, Clone)]
enum Series {
    Cron(CronExpr, Tz),
    Every(Every),
    Iso(IsoRepeat),
}

impl Series {
    /// The next instant of the series, `None` past [`limits::LATEST`]: the series ends there.
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = match self {
            Self::Cron(expr, tz) => expr.next_after(after, *tz),
            Self::Every(every) => every.next_after(after).map(|(_, t)| t),
            Self::Iso(iso) => iso.next_after(after).map(|(_, t)| t),
        }?;
        limits::bounded(next)
    }
}

/// A recurrence error as the API reports it: the field, the message, the position.
fn refused(field: &str, e: RecurrenceError) -> ValidationError {
    let mut error = ValidationError::invalid(field, e.to_string());
    error.position = e.position;
    error
}

impl Schedule {
    /// An `at` schedule.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self {
            at: Some(at),
            ..Self::default()
        }
    }

    /// An `after` schedule.
    pub fn after(after: HumanDuration) -> Self {
        Self {
            after: Some(after),
            ..Self::default()
        }
    }

    /// A `cron` schedule in UTC.
    pub fn cron(expr: &str) -> Self {
        Self {
            cron: Some(expr.to_owned()),
            ..Self::default()
        }
    }

    /// An `every` schedule.
    pub fn every(every: HumanDuration) -> Self {
        Self {
            every: Some(every),
            ..Self::default()
        }
    }

    /// An `iso` schedule in UTC.
    pub fn iso(expr: &str) -> Self {
        Self {
            iso: Some(expr.to_owned()),
            ..Self::default()
        }
    }

    fn kinds(&self) -> Vec<ScheduleKind> {
        [
            (ScheduleKind::At, self.at.is_some()),
            (ScheduleKind::After, self.after.is_some()),
            (ScheduleKind::Cron, self.cron.is_some()),
            (ScheduleKind::Every, self.every.is_some()),
            (ScheduleKind::Iso, self.iso.is_some()),
        ]
        .into_iter()
        .filter(|(_, given)| *given)
        .map(|(kind, _)| kind)
        .collect()
    }

    /// The kind, once the schedule is known to be valid.
    pub fn kind(&self) -> ScheduleKind {
        self.kinds().first().copied().unwrap_or(ScheduleKind::At)
    }

    /// Whether the timer fires more than once (before callbacks steer it).
    pub fn is_recurring(&self) -> bool {
        matches!(
            self.kind(),
            ScheduleKind::Cron | ScheduleKind::Every | ScheduleKind::Iso
        )
    }

    pub fn misfire(&self) -> Misfire {
        self.misfire.unwrap_or_default()
    }

    pub fn overlap(&self) -> Overlap {
        self.overlap.unwrap_or_default()
    }

    fn tz(&self) -> Result<Tz, ValidationError> {
        match &self.timezone {
            None => Ok(Tz::UTC),
            Some(name) => recurrence::parse_tz(name).map_err(|e| refused("timezone", e)),
        }
    }

    /// The recurring series, for a timer whose defining command was accepted at `anchor`.
    fn series(&self, anchor: DateTime<Utc>) -> Result<Series, ValidationError> {
        let tz = self.tz()?;
        if let Some(expr) = &self.cron {
            let expr = CronExpr::parse(expr).map_err(|e| refused("cron", e))?;
            return Ok(Series::Cron(expr, tz));
        }
        if let Some(every) = self.every {
            let every = Every::new(self.start_at.unwrap_or(anchor), every.get())
                .map_err(|e| refused("every", e))?;
            return Ok(Series::Every(every));
        }
        if let Some(expr) = &self.iso {
            let iso = IsoRepeat::parse(expr, tz).map_err(|e| refused("iso", e))?;
            return Ok(Series::Iso(iso));
        }
        Err(ValidationError::invalid("", "not a recurring schedule"))
    }

    /// The first due time, for a timer whose command was accepted at `anchor`. A recurring
    /// schedule's first occurrence is the first one after `anchor` (and at or after
    /// `start_at`): occurrences before the timer existed are not missed, they never were.
    /// `None` when there is none at or before [`limits::LATEST`].
    pub fn first_due(&self, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.kind() {
            ScheduleKind::At => self.at.and_then(limits::bounded),
            ScheduleKind::After => limits::add_std(anchor, self.after.unwrap_or_default().get()),
            _ => {
                let from = match self.start_at {
                    Some(start) if start > anchor => just_before(start)?,
                    _ => anchor,
                };
                self.next_after(anchor, from)
            }
        }
    }

    /// [`Self::first_due`], or why there is none, as the API answers it: `after` landing past
    /// [`limits::LATEST`], or a schedule with no occurrence left.
    pub fn first_due_checked(
        &self,
        anchor: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, ValidationError> {
        if let Some(due) = self.first_due(anchor) {
            return Ok(due);
        }
        if self.kind() == ScheduleKind::After {
            return Err(ValidationError::invalid(
                "after",
                "after lands past 9999-12-31T23:59:59.999Z, the latest instant ontime accepts",
            ));
        }
        Err(ValidationError::invalid(
            "",
            format!(
                "the schedule has no occurrence after {} (nor before 9999-12-31)",
                anchor.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
        ))
    }

    /// The first occurrence strictly after `after` within `start_at`..=`end_at` (`None`: the
    /// schedule has no more; always `None` for one-time schedules). `max_runs` is counted by
    /// the caller, which knows the runs made.
    pub fn next_after(&self, anchor: DateTime<Utc>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let series = self.series(anchor).ok()?;
        let after = match self.start_at {
            Some(start) if start > after => just_before(start)?,
            _ => after,
        };
        let next = series.next_after(after)?;
        if self.end_at.is_some_and(|end| next > end) {
            return None;
        }
        Some(next)
    }

    /// `first` and the occurrences after it, up to `count` in all (none for a zero count).
    pub fn starting_at(
        &self,
        anchor: DateTime<Utc>,
        first: DateTime<Utc>,
        count: usize,
    ) -> Vec<DateTime<Utc>> {
        if count == 0 {
            return Vec::new();
        }
        let mut out = vec![first];
        out.extend(self.upcoming(anchor, first, count - 1));
        out
    }

    /// Up to `count` occurrences strictly after `after`.
    pub fn upcoming(
        &self,
        anchor: DateTime<Utc>,
        after: DateTime<Utc>,
        count: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(count);
        let mut at = after;
        while out.len() < count {
            match self.next_after(anchor, at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }
}

/// The instant a nanosecond before `at`, so that "strictly after" includes `at` itself.
fn just_before(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    limits::sub(at, chrono::TimeDelta::nanoseconds(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn parse(json: &str) -> Schedule {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn exactly_one_kind() {
        assert!(Schedule::default().validate().is_err());
        let both = Schedule {
            at: Some(Utc::now()),
            after: Some(HumanDuration::from_secs(1)),
            ..Schedule::default()
        };
        assert!(both.validate().unwrap_err().message.contains("only one"));
        let two = parse(r#"{"cron": "* * * * *", "every": "1m"}"#);
        assert_eq!(
            two.validate().unwrap_err().message,
            "give only one schedule kind, not cron and every"
        );
        assert!(
            Schedule::after(HumanDuration::from_secs(5))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn after_counts_from_the_anchor() {
        let anchor = t("2026-01-01T00:00:00Z");
        let s = Schedule::after("1h30m".parse().unwrap());
        assert_eq!(s.first_due(anchor).unwrap(), t("2026-01-01T01:30:00Z"));
        assert_eq!(s.next_after(anchor, anchor), None);
        assert!(!s.is_recurring());
    }

    #[test]
    fn unknown_kinds_are_refused_by_name() {
        let err = serde_json::from_str::<Schedule>(r#"{"sometimes": "yes"}"#).unwrap_err();
        assert!(err.to_string().contains("sometimes"));
    }

    #[test]
    fn cron_in_a_time_zone() {
        let s = parse(r#"{"cron": "0 0 9 * * MON-FRI", "timezone": "Europe/Paris"}"#);
        s.validate().unwrap();
        // Friday 2026-11-27 10:00 UTC: next is Monday 09:00 Paris = 08:00 UTC.
        let anchor = t("2026-11-27T10:00:00Z");
        assert_eq!(s.first_due(anchor).unwrap(), t("2026-11-30T08:00:00Z"));
        assert_eq!(
            s.upcoming(anchor, anchor, 3),
            vec![
                t("2026-11-30T08:00:00Z"),
                t("2026-12-01T08:00:00Z"),
                t("2026-12-02T08:00:00Z")
            ]
        );
    }

    #[test]
    fn every_counts_from_creation_or_start_at() {
        let anchor = t("2026-01-01T00:00:00Z");
        let s = parse(r#"{"every": "PT90M"}"#);
        assert_eq!(s.first_due(anchor).unwrap(), t("2026-01-01T01:30:00Z"));
        let s = parse(r#"{"every": "1h", "start_at": "2026-01-02T00:00:00Z"}"#);
        assert_eq!(s.first_due(anchor).unwrap(), t("2026-01-02T00:00:00Z"));
        assert_eq!(
            s.next_after(anchor, t("2026-01-02T00:00:00Z")).unwrap(),
            t("2026-01-02T01:00:00Z")
        );
    }

    #[test]
    fn bounds_end_the_series() {
        let anchor = t("2026-01-01T00:00:00Z");
        let s = parse(r#"{"every": "1h", "stop_at": "2026-01-01T02:00:00Z"}"#);
        assert_eq!(s.end_at, Some(t("2026-01-01T02:00:00Z")));
        assert_eq!(
            s.upcoming(anchor, anchor, 10),
            vec![t("2026-01-01T01:00:00Z"), t("2026-01-01T02:00:00Z")]
        );
        let s = parse(r#"{"cron": "0 0 * * * *", "start_at": "2026-01-01T05:00:00Z"}"#);
        assert_eq!(s.first_due(anchor).unwrap(), t("2026-01-01T05:00:00Z"));
    }

    #[test]
    fn iso_repeats_count_and_skip_what_was_before_creation() {
        let s = parse(r#"{"iso": "R3/2026-01-01T00:00:00Z/PT1S"}"#);
        s.validate().unwrap();
        let before = t("2025-12-31T23:59:59Z");
        assert_eq!(
            s.upcoming(before, before, 10),
            vec![
                t("2026-01-01T00:00:00Z"),
                t("2026-01-01T00:00:01Z"),
                t("2026-01-01T00:00:02Z")
            ]
        );
        let later = t("2026-01-01T00:00:01Z");
        assert_eq!(s.first_due(later), Some(t("2026-01-01T00:00:02Z")));
        // Jan 31 + P1M is the last day of February.
        let s = parse(r#"{"iso": "R2/2026-01-31T10:00:00Z/P1M"}"#);
        assert_eq!(
            s.upcoming(before, before, 5),
            vec![t("2026-01-31T10:00:00Z"), t("2026-02-28T10:00:00Z")]
        );
    }

    #[test]
    fn errors_name_the_field_and_the_position() {
        let e = parse(r#"{"cron": "0 0 25 * * *"}"#).validate().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("cron"));
        assert_eq!(e.position, Some(4));
        assert!(e.message.contains("hour"), "{e:?}");
        let e = parse(r#"{"iso": "R3/2026-13-01T00:00:00Z/PT1S"}"#)
            .validate()
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("iso"));
        assert!(e.position.is_some(), "{e:?}");
        let e = parse(r#"{"cron": "@daily", "timezone": "Europe/Pariss"}"#)
            .validate()
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("timezone"));
        let e = parse(r#"{"every": "0s"}"#).validate().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("every"));
        let e = parse(r#"{"every": "1m", "timezone": "UTC"}"#)
            .validate()
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("timezone"));
        let e = parse(r#"{"at": "2026-01-01T00:00:00Z", "max_runs": 3}"#)
            .validate()
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("max_runs"));
        let e = parse(r#"{"every": "1m", "max_runs": 0}"#)
            .validate()
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("max_runs"));
        let e = parse(
            r#"{"every": "1m", "start_at": "2026-01-02T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"}"#,
        )
        .validate()
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("end_at"));
        let e = serde_json::from_str::<Schedule>(r#"{"every": "1m", "misfire": "sometimes"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("fire_once"), "{e}");
    }
}
