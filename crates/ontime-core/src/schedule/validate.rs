//! Validating a `schedule` document: one kind, values that parse, refinements that fit the
//! kind, no instant past [`limits::LATEST`] and no interval under the operator's floor.

use chrono::DateTime;

use super::{Schedule, ScheduleKind, Series};
use crate::duration::HumanDuration;
use crate::error::ValidationError;
use crate::limits::{self, Limits};

impl Schedule {
    /// [`Self::validate_with`] the default [`Limits`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.validate_with(&Limits::default())
    }

    /// Checks that exactly one kind is given, that its value parses, that the refining
    /// fields fit it, that no instant is past [`limits::LATEST`] and no interval shorter
    /// than `limits.min_interval`. Errors name the field and, inside an expression, the
    /// position.
    pub fn validate_with(&self, limits: &Limits) -> Result<(), ValidationError> {
        let kinds = self.kinds();
        let name = |k: &ScheduleKind| format!("{k:?}").to_lowercase();
        match kinds.len() {
            0 => {
                return Err(ValidationError::invalid(
                    "",
                    "give one schedule kind: at, after, cron, every or iso",
                ));
            }
            1 => {}
            _ => {
                let names: Vec<String> = kinds.iter().map(name).collect();
                return Err(ValidationError::invalid(
                    "",
                    format!("give only one schedule kind, not {}", names.join(" and ")),
                ));
            }
        }
        let recurring = self.is_recurring();
        if !recurring {
            for (field, given) in [
                ("timezone", self.timezone.is_some()),
                ("start_at", self.start_at.is_some()),
                ("end_at", self.end_at.is_some()),
                ("max_runs", self.max_runs.is_some()),
                ("misfire", self.misfire.is_some()),
                ("overlap", self.overlap.is_some()),
            ] {
                if given {
                    return Err(ValidationError::invalid(
                        field,
                        format!("{field} applies to recurring schedules (cron, every, iso) only"),
                    ));
                }
            }
        }
        if self.every.is_some() && self.timezone.is_some() {
            return Err(ValidationError::invalid(
                "timezone",
                "every is a fixed length of absolute time; a time zone does not apply to it \
                 (use cron or iso for wall-clock schedules)",
            ));
        }
        for (field, at) in [
            ("at", self.at),
            ("start_at", self.start_at),
            ("end_at", self.end_at),
        ] {
            if let Some(at) = at {
                limits::check_instant(field, at)?;
            }
        }
        for (field, d) in [
            ("after", self.after),
            ("every", self.every),
            ("max_lateness", self.max_lateness),
        ] {
            if let Some(d) = d {
                limits::check_span(field, d.get())?;
            }
        }
        if let Some(every) = self.every
            && !every.get().is_zero()
            && every.get() < limits.min_interval
        {
            return Err(ValidationError::invalid(
                "every",
                format!(
                    "every must be at least {}, the shortest interval this server allows",
                    HumanDuration::from(limits.min_interval)
                ),
            ));
        }
        if self.max_runs == Some(0) {
            return Err(ValidationError::invalid(
                "max_runs",
                "max_runs must be at least 1",
            ));
        }
        if let (Some(start), Some(end)) = (self.start_at, self.end_at)
            && end <= start
        {
            return Err(ValidationError::invalid(
                "end_at",
                "end_at must be after start_at",
            ));
        }
        if recurring {
            // Parsing does not depend on the anchor; any instant will do.
            if let Series::Iso(iso) = self.series(DateTime::UNIX_EPOCH)?
                && iso.count() != Some(1)
                && iso
                    .fixed_step()
                    .is_some_and(|step| step < limits.min_interval)
            {
                return Err(ValidationError::invalid(
                    "iso",
                    format!(
                        "the repetition's period must be at least {}, the shortest interval \
                         this server allows",
                        HumanDuration::from(limits.min_interval)
                    ),
                ));
            }
        }
        Ok(())
    }
}
