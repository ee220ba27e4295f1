//! ISO 8601 repeating intervals: `R[n]/<start>/<duration>`, `R[n]/<duration>/<end>` and
//! `R[n]/<start>/<end>`.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::calendar_duration::CalendarDuration;
use super::error::{RecurrenceError, Syntax, char_offset};
use super::iso_instant::parse_instant;

/// A repeating interval, with its occurrences numbered from 0.
///
/// * `R[n]/<start>/<duration>`: occurrence `k` is `start + k·duration`.
/// * `R[n]/<start>/<end>`: the same, with the exact span `end - start` as the duration.
/// * `R<n>/<duration>/<end>`: the `n` occurrences end at `end`, one `duration` apart; occurrence
///   `k` is `end - (n-1-k)·duration`, so occurrence `n-1` is `end` itself.
/// * `R/<duration>/<end>` (unbounded): every `end - j·duration`. That series has no first
///   occurrence, so here the number counts backwards: occurrence `k` is `end - k·duration`,
///   and numbers decrease as time goes on (each one still names one instant for good).
///
/// `R` without a count repeats forever; `R1` is a single occurrence; `R0` is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoRepeat {
    source: String,
    count: Option<u64>,
    anchor: Anchor,
    step: CalendarDuration,
    tz: Tz,
}

/// Which end the series hangs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Start(DateTime<Tz>),
    End(DateTime<Tz>),
}

const FORMS: &str = "R[n]/<start>/<duration>, R[n]/<duration>/<end> or R[n]/<start>/<end>";

impl IsoRepeat {
    /// Parses the three forms of the type docs. Instants are RFC 3339 / ISO 8601 with `Z` or an
    /// offset; a local date-time without one (`2016-05-03T11:22:33`) is read in `tz`, which is
    /// also the zone whose wall clock calendar units (`P1D`, `P1M`) step on.
    pub fn parse(expr: &str, tz: Tz) -> Result<IsoRepeat, RecurrenceError> {
        let err = |byte: usize, field: &'static str, msg: String| {
            RecurrenceError::new(Syntax::Iso8601, msg)
                .at(char_offset(expr, byte))
                .in_field(field)
        };
        let text = expr.trim();
        let base = expr.len() - expr.trim_start().len();
        if text.is_empty() {
            return Err(RecurrenceError::new(
                Syntax::Iso8601,
                format!("empty repeating interval (write {FORMS})"),
            ));
        }
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() != 3 {
            return Err(RecurrenceError::new(
                Syntax::Iso8601,
                format!(
                    "expected 3 parts separated by '/' ({FORMS}), got {}",
                    parts.len()
                ),
            ));
        }
        let starts = [
            base,
            base + parts[0].len() + 1,
            base + parts[0].len() + parts[1].len() + 2,
        ];
        let count = parse_count(parts[0]).map_err(|msg| err(base, "count", msg))?;
        let is_duration = |p: &str| p.starts_with(['P', 'p', '-']);
        let duration = |i: usize| {
            CalendarDuration::parse(parts[i]).map_err(|e| e.shifted(char_offset(expr, starts[i])))
        };
        let instant = |i: usize, field| {
            parse_instant(parts[i], tz)
                .map(|t| t.with_timezone(&tz))
                .map_err(|e| e.shifted(char_offset(expr, starts[i])).in_field(field))
        };
        let (anchor, step, step_at) = match (is_duration(parts[1]), is_duration(parts[2])) {
            (false, true) => (Anchor::Start(instant(1, "start")?), duration(2)?, starts[2]),
            (true, false) => (Anchor::End(instant(2, "end")?), duration(1)?, starts[1]),
            (false, false) => {
                let (start, end) = (instant(1, "start")?, instant(2, "end")?);
                if end <= start {
                    return Err(err(
                        starts[2],
                        "end",
                        format!("end {} must be after start {}", parts[2], parts[1]),
                    ));
                }
                let span = (end - start)
                    .to_std()
                    .map_err(|_| err(starts[2], "end", "end must be after start".into()))?;
                (
                    Anchor::Start(start),
                    CalendarDuration::from_time(span),
                    starts[2],
                )
            }
            (true, true) => {
                return Err(err(
                    starts[2],
                    "end",
                    format!("two durations: one side must be an instant ({FORMS})"),
                ));
            }
        };
        if step.is_zero() {
            return Err(err(
                step_at,
                "duration",
                "the duration must not be zero: occurrences would all fall at the same instant"
                    .into(),
            ));
        }
        Ok(IsoRepeat {
            source: text.to_string(),
            count,
            anchor,
            step,
            tz,
        })
    }

    /// How many occurrences there are; `None` when unbounded.
    pub fn count(&self) -> Option<u64> {
        self.count
    }

    /// The period when it has a fixed length (no years or months; a day counts 24 h), the
    /// length an interval floor is checked against. A period with months is at least 28 days.
    pub fn fixed_step(&self) -> Option<std::time::Duration> {
        self.step.fixed_length()
    }

    /// The time zone whose wall clock the calendar units step on.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Occurrence number `k` (numbering in the type docs); `None` past the count or beyond the
    /// calendar's range.
    pub fn nth(&self, k: u64) -> Option<DateTime<Utc>> {
        let at = match (self.anchor, self.count) {
            (_, Some(n)) if k >= n => return None,
            (Anchor::Start(start), _) => self.step.add_times(start, k)?,
            (Anchor::End(end), Some(n)) => self.step.sub_times(end, n - 1 - k)?,
            (Anchor::End(end), None) => self.step.sub_times(end, k)?,
        };
        Some(at.with_timezone(&Utc))
    }

    /// The first occurrence strictly after `after`, with its number.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<(u64, DateTime<Utc>)> {
        // Occurrences increase with their distance from the anchor, so "is it past `after`?"
        // flips once along the series; a guess from the average step length puts the search
        // next to that flip, and `first_true` finds it exactly. An occurrence beyond the
        // calendar's range (`None`) counts as past everything.
        match self.anchor {
            Anchor::Start(start) => {
                let at = |k: u64| self.step.add_times(start, k).map(|t| t.with_timezone(&Utc));
                let k = first_true(self.guess(start, after), |k| {
                    at(k).is_none_or(|t| t > after)
                })?;
                if self.count.is_some_and(|n| k >= n) {
                    return None;
                }
                Some((k, at(k)?))
            }
            Anchor::End(end) => {
                // `j` steps back from the end is `end - j·d`: later for smaller `j`.
                let back = |j: u64| self.step.sub_times(end, j).map(|t| t.with_timezone(&Utc));
                if end.with_timezone(&Utc) <= after {
                    return None;
                }
                let guess = self.guess(after.with_timezone(&self.tz), end.with_timezone(&Utc));
                // The first `j` at or before `after`; the one just before it is the answer.
                let j = first_true(guess, |j| back(j).is_none_or(|t| t <= after))? - 1;
                match self.count {
                    Some(n) => {
                        let j = j.min(n - 1);
                        Some((n - 1 - j, back(j)?))
                    }
                    None => Some((j, back(j)?)),
                }
            }
        }
    }

    /// About how many steps fit between `from` and `to` (0 when `to` is not later).
    fn guess(&self, from: DateTime<Tz>, to: DateTime<Utc>) -> u64 {
        let span = to - from.with_timezone(&Utc);
        let nanos =
            i128::from(span.num_seconds()) * 1_000_000_000 + i128::from(span.subsec_nanos());
        let steps = nanos / self.step.approx_nanos().max(1);
        u64::try_from(steps).unwrap_or(if steps > 0 { u64::MAX } else { 0 })
    }
}

/// The smallest `k` for which `past(k)` holds, when `past` is false up to some `k` and true
/// from there on (and taken as true beyond `u64::MAX`). Gallops away from `guess` in doubling
/// strides until the flip is bracketed, then bisects, so a poor guess costs a logarithm, not
/// a walk.
fn first_true(guess: u64, past: impl Fn(u64) -> bool) -> Option<u64> {
    let past = |k: i128| match u64::try_from(k) {
        Ok(k) => past(k),
        Err(_) => k > 0,
    };
    // Invariant once bracketed: past(lo) is false, past(hi) is true.
    let (mut lo, mut hi);
    let mut stride = 1i128;
    if past(i128::from(guess)) {
        hi = i128::from(guess);
        loop {
            let probe = hi - stride;
            if !past(probe) {
                lo = probe;
                break;
            }
            hi = probe;
            stride *= 2;
        }
    } else {
        lo = i128::from(guess);
        loop {
            let probe = lo + stride;
            if past(probe) {
                hi = probe;
                break;
            }
            lo = probe;
            stride *= 2;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if past(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    u64::try_from(hi).ok()
}

/// `R` (unbounded) or `R<n>` with n ≥ 1.
fn parse_count(part: &str) -> Result<Option<u64>, String> {
    let Some(digits) = part.strip_prefix(['R', 'r']) else {
        return Err(format!(
            "a repeating interval starts with R or R<n> ({FORMS}), not {part:?}"
        ));
    };
    if digits.is_empty() {
        return Ok(None);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("repetition count {digits:?} is not a number"));
    }
    match digits.parse::<u64>() {
        Ok(0) => Err("R0 has no occurrence; write R1 for a single one, or R for no limit".into()),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(format!("repetition count {digits} is too large")),
    }
}

impl fmt::Display for IsoRepeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
