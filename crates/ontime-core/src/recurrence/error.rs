//! The one error type of the recurrence parsers. Every refusal says which grammar refused
//! the input, what is wrong and, when it can be pointed at, where: the API echoes the message
//! to whoever typed the expression, so it has to be enough to fix it without reading our code.

use std::fmt;

/// Which grammar refused the input; it prefixes the message (`cron: …`, `iso8601: …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// A cron expression ([`super::CronExpr`]).
    Cron,
    /// An ISO 8601 repeating interval, instant or duration ([`super::IsoRepeat`],
    /// [`super::CalendarDuration`]).
    Iso8601,
    /// A duration string such as `"1h30m"` ([`super::parse_duration`]).
    Duration,
    /// An IANA time zone name ([`super::parse_tz`]).
    TimeZone,
    /// A fixed interval ([`super::Every`]).
    Every,
}

impl Syntax {
    fn label(self) -> &'static str {
        match self {
            Self::Cron => "cron",
            Self::Iso8601 => "iso8601",
            Self::Duration => "duration",
            Self::TimeZone => "timezone",
            Self::Every => "every",
        }
    }
}

/// Why an expression was refused.
///
/// Displays as `<syntax>: <message>[ at position <n>]`, e.g.
/// `cron: field 3 (hour) value 25 out of range 0-23 at position 4`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RecurrenceError {
    /// The grammar that refused the input.
    pub syntax: Syntax,
    /// What is wrong, for people; does not repeat the syntax or the position.
    pub message: String,
    /// The 0-based character offset in the expression where the fault starts, when there is one
    /// place to point at.
    pub position: Option<usize>,
    /// The part of the expression at fault, e.g. `hour`, `day-of-week`, `start`, `count`.
    pub field: Option<&'static str>,
}

impl RecurrenceError {
    /// An error with no position or field.
    pub(crate) fn new(syntax: Syntax, message: impl Into<String>) -> Self {
        Self {
            syntax,
            message: message.into(),
            position: None,
            field: None,
        }
    }

    /// Points the error at a character offset.
    pub(crate) fn at(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    /// Names the part of the expression at fault.
    pub(crate) fn in_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    /// Moves the position by `offset` characters: sub-parsers count from the start of their
    /// own slice, the caller knows where that slice sits in the whole expression.
    pub(crate) fn shifted(mut self, offset: usize) -> Self {
        self.position = self.position.map(|p| p + offset);
        self
    }
}

impl fmt::Display for RecurrenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.syntax.label(), self.message)?;
        if let Some(p) = self.position {
            write!(f, " at position {p}")?;
        }
        Ok(())
    }
}

/// The character offset of byte index `byte` in `s`: positions are reported in characters so
/// they match what an editor shows, even after a non-ASCII character.
pub(crate) fn char_offset(s: &str, byte: usize) -> usize {
    s[..byte].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_syntax_message_and_position() {
        let e = RecurrenceError::new(Syntax::Cron, "field 3 (hour) value 25 out of range 0-23")
            .at(4)
            .in_field("hour");
        assert_eq!(
            e.to_string(),
            "cron: field 3 (hour) value 25 out of range 0-23 at position 4"
        );
        assert_eq!(
            RecurrenceError::new(Syntax::TimeZone, "unknown").to_string(),
            "timezone: unknown"
        );
        assert_eq!(e.shifted(3).position, Some(7));
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(char_offset("é x", 3), 2);
    }
}
