//! The `<timespec>` of `POST …/at/<timespec>` as ontime-ontarget read it, in native terms:
//! an instant becomes a one-time timer, an ISO 8601 repeating interval an `iso` timer that
//! skips the occurrences it misses. Pure: the clock, the zone and the limits are passed in.
//!
//! The original first tried the spec as an instant, then as an interval:
//! - an instant (see [`super::instant`]) must be strictly in the future; it fires on its
//!   whole second, as the original's did;
//! - `R[n]/<start>/<duration>`, `R[n]/<duration>/<end>`, `R[n]/<start>/<end>` (or the same
//!   with `--` between the parts): `Rn` meant occurrences 0 to n, so n+1 of them (the native
//!   `Rn` is n of them), `R` alone no end; its instants are read as above;
//! - `R[n]/<duration>`: the original counted each next occurrence from the moment it was
//!   computed, so its occurrences drifted; here they are one duration from the event's
//!   creation, then every duration, without drift.
//!
//! Every occurrence from now on fires; those before now never do, and those missed while
//! ontime was down are skipped, as the original's were.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use chrono_tz::Tz;
use ontime_core::Limits;
use ontime_core::recurrence::{CalendarDuration, IsoRepeat};
use ontime_core::schedule::{Misfire, Schedule};

use super::instant;

/// The answer to an empty timespec.
pub const REQUIRED: &str = "INTERVAL OR TIME REQUIRED";

/// The longest timespec kept (it is kept, as written, in a metadata value).
const MAX_CHARS: usize = ontime_core::metadata::MAX_VALUE_CHARS;

/// Which of the two the timespec is; the event shows it as `timestamp` or `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Timestamp,
    Interval,
}

/// A timespec, translated.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: Kind,
    pub schedule: Schedule,
}

/// The native schedule of `spec` for an event created at `now`, or the 400's text: the
/// original's own messages where it had one.
pub fn plan(spec: &str, now: DateTime<Utc>, tz: Tz, limits: &Limits) -> Result<Plan, String> {
    if spec.is_empty() {
        return Err(REQUIRED.into());
    }
    if spec.chars().count() > MAX_CHARS {
        return Err(format!("Time specification is too long: {spec}"));
    }
    if let Some(at) = instant::parse(spec, tz) {
        return one_time(spec, at, now);
    }
    if spec.starts_with('R') {
        return repeating(spec, now, tz, limits);
    }
    // The original leaked a TypeError here (`this.duration.asSeconds is not a function`).
    Err(format!("Invalid time specification: {spec}"))
}

fn one_time(spec: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<Plan, String> {
    if at <= now {
        return Err(format!("Time specification is in the past: {spec}"));
    }
    let schedule = Schedule::at(at.trunc_subsecs(0));
    // An offset can carry a year-9999 instant past the latest one ontime represents.
    schedule
        .validate()
        .map_err(|_| format!("Invalid time specification: {spec}"))?;
    Ok(Plan {
        kind: Kind::Timestamp,
        schedule,
    })
}

fn repeating(spec: &str, now: DateTime<Utc>, tz: Tz, limits: &Limits) -> Result<Plan, String> {
    let invalid = || format!("Invalid ISO-8601 interval specification: {spec}");
    let iso = native_iso(spec, now, tz).ok_or_else(invalid)?;
    IsoRepeat::parse(&iso, tz).map_err(|_| invalid())?;
    let schedule = Schedule {
        iso: Some(iso),
        timezone: Some(tz.name().to_owned()),
        misfire: Some(Misfire::Skip),
        ..Schedule::default()
    };
    // What still fails is a period under the operator's floor, which the original never had.
    schedule
        .validate_with(limits)
        .map_err(|e| format!("{}: {spec}", e.message))?;
    if schedule.first_due(now).is_none() {
        return Err(format!(
            "ISO-8601 interval specification's last recurrence is in the past: {spec}"
        ));
    }
    Ok(Plan {
        kind: Kind::Interval,
        schedule,
    })
}

/// The original's `R[n]/…` in the native syntax (see the module docs); `None` if it is not
/// one of its forms.
fn native_iso(spec: &str, now: DateTime<Utc>, tz: Tz) -> Option<String> {
    let separator = if spec.contains("--") { "--" } else { "/" };
    let parts: Vec<&str> = spec.split(separator).collect();
    let count = count(parts.first()?)?;
    let (first, second) = match parts.as_slice() {
        [_, step] if is_duration(step) => {
            let start = CalendarDuration::parse(step)
                .ok()?
                .add_to(now.with_timezone(&tz))?;
            (rfc3339(start.with_timezone(&Utc)), (*step).to_owned())
        }
        [_, a, b] => (side(a, tz)?, side(b, tz)?),
        _ => return None,
    };
    Some(format!("R{count}/{first}/{second}"))
}

/// The native count of `R[n]`: empty for no end, n+1 for `Rn`.
fn count(part: &str) -> Option<String> {
    let digits = part.strip_prefix('R')?;
    if digits.is_empty() {
        return Some(String::new());
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(n.checked_add(1)?.to_string())
}

/// One side of an interval: a duration as written, or an instant in RFC 3339.
fn side(part: &str, tz: Tz) -> Option<String> {
    if is_duration(part) {
        return Some(part.to_owned());
    }
    instant::parse(part, tz).map(rfc3339)
}

fn is_duration(part: &str) -> bool {
    part.starts_with(['P', 'p'])
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests;
