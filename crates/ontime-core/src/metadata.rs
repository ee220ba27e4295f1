//! A timer's metadata: the client's own labels, a map of string to string kept with the
//! definition, shown in every view and matched by listings (`?metadata.<key>=<value>`).
//!
//! Bounded, so that a record stays small and a listing's filter stays unambiguous: at most
//! [`MAX_KEYS`] keys; a key is 1 to [`MAX_KEY_LEN`] characters of `A-Z a-z 0-9 . _ -` (no
//! `=`, `&` or `%`, so `metadata.<key>` in a query string needs no escaping); a value is at
//! most [`MAX_VALUE_CHARS`] characters (Unicode scalar values, as JSON Schema's `maxLength`
//! counts them), empty allowed.

use std::collections::BTreeMap;

use crate::error::ValidationError;
use crate::schedule::ScheduleKind;
use crate::timer::TimerStatus;

/// Most keys a timer's metadata holds.
pub const MAX_KEYS: usize = 32;
/// Longest key, in characters (all ASCII).
pub const MAX_KEY_LEN: usize = 64;
/// Longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 512;

/// A timer's metadata, ordered by key.
pub type Metadata = BTreeMap<String, String>;

/// Whether `key` may name a metadata entry.
pub fn is_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks one entry; the error's field is `<key>` (callers prefix it with `metadata`).
pub fn check_entry(key: &str, value: &str) -> Result<(), ValidationError> {
    if !is_key(key) {
        return Err(ValidationError::invalid(
            key,
            format!("a metadata key is 1 to {MAX_KEY_LEN} characters of A-Z a-z 0-9 . _ -"),
        ));
    }
    // `len()` is a cheap upper bound of the character count: most values pass it.
    if value.len() > MAX_VALUE_CHARS && value.chars().count() > MAX_VALUE_CHARS {
        return Err(ValidationError::invalid(
            key,
            format!("a metadata value is at most {MAX_VALUE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks a whole map; errors name `<key>`, or the empty field for too many keys (callers
/// prefix them with `metadata`).
pub fn validate(metadata: &Metadata) -> Result<(), ValidationError> {
    if metadata.len() > MAX_KEYS {
        return Err(ValidationError::invalid(
            "",
            format!(
                "metadata holds at most {MAX_KEYS} keys, not {}",
                metadata.len()
            ),
        ));
    }
    for (key, value) in metadata {
        check_entry(key, value)?;
    }
    Ok(())
}

/// What a listing keeps: timers in a status (by default every status but `cancelled`), with a
/// schedule of a kind if one is given, whose metadata holds every given entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerFilter {
    pub status: Option<TimerStatus>,
    pub kind: Option<ScheduleKind>,
    /// Entries a timer's metadata must all hold (an AND).
    pub metadata: Metadata,
}

impl TimerFilter {
    /// Timers in `status`, or every live one.
    pub fn status(status: Option<TimerStatus>) -> Self {
        Self {
            status,
            kind: None,
            metadata: Metadata::new(),
        }
    }

    /// Also requires `key` = `value`; refused (field `metadata.<key>`) for a key or value no
    /// timer can hold.
    pub fn require(&mut self, key: &str, value: &str) -> Result<(), ValidationError> {
        check_entry(key, value).map_err(|e| e.within("metadata"))?;
        if self.metadata.len() == MAX_KEYS && !self.metadata.contains_key(key) {
            return Err(ValidationError::invalid(
                format!("metadata.{key}"),
                format!("at most {MAX_KEYS} metadata filters: a timer holds no more keys"),
            ));
        }
        self.metadata.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// Whether the filter asks about the definition, its schedule or its metadata (a listing
    /// must then read it).
    pub fn reads_spec(&self) -> bool {
        self.kind.is_some() || !self.metadata.is_empty()
    }

    /// Whether only the default (every live timer) is asked for.
    pub fn is_everything(&self) -> bool {
        self.status.is_none() && !self.reads_spec()
    }

    /// Whether a timer in `status` is kept, before its metadata is looked at.
    pub fn admits_status(&self, status: TimerStatus) -> bool {
        match self.status {
            Some(wanted) => status == wanted,
            None => status != TimerStatus::Cancelled,
        }
    }

    /// Whether a timer in `status`, with a schedule of `kind` and `metadata`, is kept.
    pub fn matches(&self, status: TimerStatus, kind: ScheduleKind, metadata: &Metadata) -> bool {
        self.admits_status(status)
            && self.kind.is_none_or(|wanted| wanted == kind)
            && self
                .metadata
                .iter()
                .all(|(key, value)| metadata.get(key) == Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> Metadata {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn keys_are_short_and_plain() {
        for good in ["a", "app", "owner.team", "v_2", "x-y", &"k".repeat(64)] {
            assert!(is_key(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a=b",
            "a&b",
            "a%20",
            "é",
            "a/b",
            "a:b",
            &"k".repeat(65),
        ] {
            assert!(!is_key(bad), "{bad}");
        }
    }

    #[test]
    fn values_are_counted_in_characters() {
        assert!(check_entry("k", "").is_ok());
        assert!(check_entry("k", &"x".repeat(512)).is_ok());
        // 512 characters of 4 bytes each: 2,048 bytes, still 512 characters.
        assert!(check_entry("k", &"😀".repeat(512)).is_ok());
        let err = check_entry("k", &"x".repeat(513)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("k"));
        let err = check_entry("a b", "v").unwrap_err();
        assert_eq!(
            err.within("metadata").field.as_deref(),
            Some("metadata.a b")
        );
    }

    #[test]
    fn a_map_holds_at_most_32_keys() {
        let mut m: Metadata = (0..32).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(validate(&m).is_ok());
        m.insert("k32".into(), "v".into());
        let err = validate(&m).unwrap_err();
        assert_eq!(err.within("metadata").field.as_deref(), Some("metadata"));
    }

    #[test]
    fn filters_are_an_and_of_entries_over_live_timers_by_default() {
        use crate::schedule::ScheduleKind::{At, Cron};
        let mut f = TimerFilter::status(None);
        assert!(f.is_everything());
        let labels = map(&[("app", "crony"), ("team", "a")]);
        assert!(f.matches(TimerStatus::Scheduled, At, &labels));
        assert!(!f.matches(TimerStatus::Cancelled, At, &labels));
        f.require("app", "crony").unwrap();
        assert!(f.reads_spec() && !f.is_everything());
        assert!(f.matches(TimerStatus::Paused, At, &labels));
        f.require("team", "b").unwrap();
        assert!(!f.matches(TimerStatus::Paused, At, &labels));
        f.require("team", "a").unwrap();
        assert!(f.matches(TimerStatus::Paused, At, &labels));
        assert!(!f.matches(TimerStatus::Paused, At, &map(&[("app", "crony")])));
        f.status = Some(TimerStatus::Cancelled);
        assert!(f.matches(TimerStatus::Cancelled, At, &labels));
        assert!(!f.matches(TimerStatus::Scheduled, At, &labels));

        f.kind = Some(Cron);
        assert!(f.reads_spec());
        assert!(!f.matches(TimerStatus::Cancelled, At, &labels));
        assert!(f.matches(TimerStatus::Cancelled, Cron, &labels));

        let err = f.require("a b", "x").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("metadata.a b"));
        let err = f.require("k", &"x".repeat(513)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("metadata.k"));
    }
}
