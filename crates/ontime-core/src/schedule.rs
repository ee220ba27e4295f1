//! When a timer fires: the `schedule` object of the native API.
//!
//! Exactly one kind is given: `at` (an instant), `after` (a delay from when the command was
//! accepted), `cron`, `every` or `iso` (recurring). The other fields refine recurring kinds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::duration::HumanDuration;
use crate::error::ValidationError;

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
}

/// Which kind of schedule a [`Schedule`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    At,
    After,
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

    /// The kind, once the schedule is known to be valid.
    pub fn kind(&self) -> ScheduleKind {
        if self.at.is_some() {
            ScheduleKind::At
        } else {
            ScheduleKind::After
        }
    }

    /// Checks that exactly one kind is given and that its value is usable.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let given: Vec<&str> = [("at", self.at.is_some()), ("after", self.after.is_some())]
            .into_iter()
            .filter(|(_, g)| *g)
            .map(|(n, _)| n)
            .collect();
        match given.len() {
            0 => Err(ValidationError::invalid(
                "",
                "give one schedule kind: at or after",
            )),
            1 => Ok(()),
            _ => Err(ValidationError::invalid(
                "",
                format!("give only one schedule kind, not {}", given.join(" and ")),
            )),
        }
    }

    /// The first due time, for a timer whose command was accepted at `anchor`.
    pub fn first_due(&self, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.kind() {
            ScheduleKind::At => self.at,
            ScheduleKind::After => Some(anchor + self.after.unwrap_or_default().chrono()),
        }
    }

    /// The due time of the occurrence after the one due at `prev` (`None`: no more).
    pub fn next_due(&self, _anchor: DateTime<Utc>, _prev: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.kind() {
            ScheduleKind::At | ScheduleKind::After => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_kind() {
        assert!(Schedule::default().validate().is_err());
        let both = Schedule {
            at: Some(Utc::now()),
            after: Some(HumanDuration::from_secs(1)),
        };
        assert!(both.validate().unwrap_err().message.contains("only one"));
        assert!(
            Schedule::after(HumanDuration::from_secs(5))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn after_counts_from_the_anchor() {
        let anchor: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let s = Schedule::after("1h30m".parse().unwrap());
        assert_eq!(
            s.first_due(anchor).unwrap(),
            "2026-01-01T01:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(s.next_due(anchor, anchor), None);
    }

    #[test]
    fn unknown_kinds_are_refused_by_name() {
        let err = serde_json::from_str::<Schedule>(r#"{"sometimes": "yes"}"#).unwrap_err();
        assert!(err.to_string().contains("sometimes"));
    }
}
