//! One field of a cron expression: its grammar (`*`, `?`, lists, ranges, steps, names) and the
//! set of values it allows.

use super::error::{RecurrenceError, Syntax, char_offset};

/// The values one cron field allows, as a bit set: every field's values fit in 0..64, and a
/// bit set makes "the next allowed value from here" one trailing-zeros count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FieldSet(u64);

impl FieldSet {
    /// The set of `lo..=hi` taken every `step`.
    fn range(lo: u32, hi: u32, step: u32) -> Self {
        let mut bits = 0u64;
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v = match v.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
        Self(bits)
    }

    /// Whether `v` is allowed.
    pub(crate) fn contains(self, v: u32) -> bool {
        v < 64 && self.0 & (1 << v) != 0
    }

    /// The smallest allowed value at or above `v`.
    pub(crate) fn next_from(self, v: u32) -> Option<u32> {
        if v >= 64 {
            return None;
        }
        let above = self.0 & (u64::MAX << v);
        (above != 0).then(|| above.trailing_zeros())
    }

    /// The smallest allowed value.
    pub(crate) fn first(self) -> Option<u32> {
        self.next_from(0)
    }
}

/// What a field may contain.
pub(crate) struct FieldSpec {
    /// Its name in messages (`hour`, `day-of-week`).
    pub(crate) name: &'static str,
    pub(crate) min: u32,
    pub(crate) max: u32,
    /// Names accepted for values, the first one standing for `min`.
    names: &'static [&'static str],
    /// `?` ("no specific value") is a synonym of `*` in the two day fields only, as in Quartz
    /// and robfig/cron, where it says "the other day field decides".
    question_mark: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The six fields in order: second, minute, hour, day-of-month, month, day-of-week.
pub(crate) const FIELDS: [FieldSpec; 6] = [
    FieldSpec {
        name: "second",
        min: 0,
        max: 59,
        names: &[],
        question_mark: false,
    },
    FieldSpec {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        question_mark: false,
    },
    FieldSpec {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        question_mark: false,
    },
    FieldSpec {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        question_mark: true,
    },
    FieldSpec {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
        question_mark: false,
    },
    // 7 is accepted as a second Sunday, as in Vixie cron; it is folded onto 0 after parsing.
    FieldSpec {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &WEEKDAYS,
        question_mark: true,
    },
];

/// A parsed field: its values, and whether it was written as `*` or `?` (possibly with a step),
/// which decides how day-of-month and day-of-week combine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParsedField {
    pub(crate) set: FieldSet,
    pub(crate) starred: bool,
}

/// Parses one field. `expr` is the whole expression and `start` the byte offset of the field in
/// it, so that errors point into what the user wrote; `number` is the field's 1-based position
/// in that expression (a 5-field expression has no seconds, so its minute is field 1).
pub(crate) fn parse_field(
    expr: &str,
    start: usize,
    len: usize,
    number: usize,
    spec: &FieldSpec,
) -> Result<ParsedField, RecurrenceError> {
    let text = &expr[start..start + len];
    let ctx = Ctx { expr, number, spec };
    let mut set = 0u64;
    let mut starred = false;
    let mut item_start = start;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(ctx.err(item_start, "empty list item"));
        }
        let (values, star) = ctx.item(item, item_start)?;
        set |= values.0;
        starred |= star;
        item_start += item.len() + 1;
    }
    if spec.max == 7 && set & (1 << 7) != 0 {
        set = (set & !(1 << 7)) | 1;
    }
    Ok(ParsedField {
        set: FieldSet(set),
        starred,
    })
}

struct Ctx<'a> {
    expr: &'a str,
    number: usize,
    spec: &'a FieldSpec,
}

impl Ctx<'_> {
    fn err(&self, byte: usize, what: impl std::fmt::Display) -> RecurrenceError {
        RecurrenceError::new(
            Syntax::Cron,
            format!("field {} ({}): {what}", self.number, self.spec.name),
        )
        .at(char_offset(self.expr, byte))
        .in_field(self.spec.name)
    }

    /// One list item: `*`, `?`, `a`, `a-b`, each optionally followed by `/step`.
    fn item(&self, item: &str, start: usize) -> Result<(FieldSet, bool), RecurrenceError> {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        let step_start = start + base.len() + 1;
        let step = match step {
            None => None,
            Some(s) if s.contains('/') => {
                return Err(self.err(
                    step_start + s.find('/').unwrap_or(0),
                    "more than one '/' in one item",
                ));
            }
            Some("") => return Err(self.err(step_start, "missing step after '/'")),
            Some(s) => match self.number_at(s, step_start)? {
                0 => return Err(self.err(step_start, "step of zero (a step must be at least 1)")),
                n => Some(n),
            },
        };
        if base.is_empty() {
            return Err(self.err(start, "missing value before '/'"));
        }
        let (spec, starred) = (self.spec, base == "*" || base == "?");
        let (lo, hi) = if base == "*" {
            (spec.min, if spec.max == 7 { 6 } else { spec.max })
        } else if base == "?" {
            if !spec.question_mark {
                return Err(self.err(start, "'?' is only allowed in day-of-month and day-of-week"));
            }
            if step.is_some() {
                return Err(self.err(start, "'?' cannot take a step"));
            }
            (spec.min, if spec.max == 7 { 6 } else { spec.max })
        } else if let Some((a, b)) = base.split_once('-') {
            let b_start = start + a.len() + 1;
            if a.is_empty() {
                return Err(self.err(start, "missing start of range before '-'"));
            }
            if b.is_empty() {
                return Err(self.err(b_start, "missing end of range after '-'"));
            }
            if b.contains('-') {
                return Err(self.err(
                    b_start + b.find('-').unwrap_or(0),
                    "more than one '-' in one range",
                ));
            }
            let (lo, hi) = (self.value(a, start)?, self.value(b, b_start)?);
            if lo > hi {
                return Err(self.err(
                    start,
                    format!("range {base} is reversed (its start is after its end)"),
                ));
            }
            (lo, hi)
        } else {
            let v = self.value(base, start)?;
            // `a/n` means "from a to the end of the field, every n", as in Vixie cron and Quartz.
            (v, if step.is_some() { spec.max } else { v })
        };
        Ok((FieldSet::range(lo, hi, step.unwrap_or(1)), starred))
    }

    /// A value: a number in the field's range, or one of its names.
    fn value(&self, token: &str, start: usize) -> Result<u32, RecurrenceError> {
        if let Some(i) = quartz_marker(token) {
            let c = token[i..].chars().next().unwrap_or('L');
            return Err(self.err(
                start + i,
                format!("unexpected character {c:?} (L, W and # are not supported)"),
            ));
        }
        if token.bytes().all(|b| b.is_ascii_alphabetic()) {
            let upper = token.to_ascii_uppercase();
            return match self.spec.names.iter().position(|n| *n == upper) {
                Some(i) => Ok(self.spec.min + i as u32),
                None if self.spec.names.is_empty() => {
                    Err(self.err(start, format!("{token:?} is not a number")))
                }
                None => {
                    let (kind, first, last) = (
                        if self.spec.max == 7 {
                            "weekday"
                        } else {
                            "month"
                        },
                        self.spec.names[0],
                        self.spec.names[self.spec.names.len() - 1],
                    );
                    Err(self.err(
                        start,
                        format!("unknown {kind} name {token:?} (use {first}-{last} or a number)"),
                    ))
                }
            };
        }
        let v = self.number_at(token, start)?;
        if v < self.spec.min || v > self.spec.max {
            return Err(self.err(
                start,
                format!("value {v} out of range {}-{}", self.spec.min, self.spec.max),
            ));
        }
        Ok(v)
    }

    /// A decimal number; anything else is named precisely, Quartz's `L`, `W` and `#` included,
    /// since people paste Quartz expressions.
    fn number_at(&self, token: &str, start: usize) -> Result<u32, RecurrenceError> {
        if let Some((i, c)) = token.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            let hint = if matches!(c, 'L' | 'W' | '#' | 'l' | 'w') {
                " (L, W and # are not supported)"
            } else {
                ""
            };
            let msg = if c.is_ascii_alphabetic() && self.spec.names.is_empty() {
                format!("{token:?} is not a number")
            } else {
                format!("unexpected character {c:?}{hint}")
            };
            return Err(self.err(start + i, msg));
        }
        token.parse().map_err(|_| {
            self.err(
                start,
                format!(
                    "value {token} out of range {}-{}",
                    self.spec.min, self.spec.max
                ),
            )
        })
    }
}

/// Where Quartz's `L` (last), `W` (weekday) or `#` (nth weekday) sits in a value such as `L`,
/// `LW`, `15W`, `5L` or `1#2`; names that merely contain those letters (`WED`, `JUL`) are not
/// markers.
fn quartz_marker(token: &str) -> Option<usize> {
    if let Some(i) = token.find('#') {
        return Some(i);
    }
    let upper = token.to_ascii_uppercase();
    let digits = upper.trim_end_matches(['L', 'W']);
    let is_marker = upper == "L"
        || upper == "LW"
        || (digits.len() < upper.len()
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit()));
    is_marker.then(|| {
        if upper == "LW" || upper == "L" {
            0
        } else {
            digits.len()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_set_lookups() {
        let s = FieldSet::range(5, 20, 5);
        assert!(s.contains(15) && !s.contains(16));
        assert_eq!(s.next_from(6), Some(10));
        assert_eq!(s.next_from(21), None);
        assert_eq!(s.first(), Some(5));
        assert_eq!(FieldSet::range(0, 59, 1).next_from(64), None);
    }

    fn field(text: &str, i: usize) -> Result<ParsedField, RecurrenceError> {
        parse_field(text, 0, text.len(), i + 1, &FIELDS[i])
    }

    #[test]
    fn lists_ranges_steps_and_names() {
        assert_eq!(
            field("1,5-7,*/20", 0).unwrap().set,
            FieldSet((1 << 1) | (0b111 << 5) | 1 | (1 << 20) | (1 << 40))
        );
        assert_eq!(
            field("50/4", 1).unwrap().set,
            FieldSet((1 << 50) | (1 << 54) | (1 << 58))
        );
        assert_eq!(
            field("jan-Mar/2", 4).unwrap().set,
            FieldSet((1 << 1) | (1 << 3))
        );
        assert_eq!(
            field("FRI-7", 5).unwrap().set,
            FieldSet(1 | (1 << 5) | (1 << 6))
        );
        assert!(field("*/2", 3).unwrap().starred);
        assert!(!field("1-31", 3).unwrap().starred);
    }
}
