//! A timer's mark: what a worker checks at the due instant, besides the record it read when
//! the fire arrived. Marks make a change seen at once, whoever applies it and however late
//! the record read was: a delete or a new definition (raised by the scheduler before it
//! answers the command), and a callback's answer that stops the timer or moves its next
//! occurrence (raised by the worker that got the answer, before it reports it, and again by
//! the scheduler that applies the report). Marks only rise.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fire::Fire;

/// A timer's newest definition (its generation), whether it was cancelled, and which of the
/// definition's scheduled occurrences a callback's answer voided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub generation: u64,
    pub cancelled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void: Option<Void>,
}

/// The scheduled occurrences that a callback's answer to occurrence `after` voided: every
/// later one due from `from` (when that call started) on, up to `until` (the instant the
/// answer moved the next occurrence to; no bound when it stopped the timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Void {
    pub after: u64,
    pub from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl Mark {
    /// The mark of a definition as it stands: nothing voided.
    pub fn of(generation: u64, cancelled: bool) -> Self {
        Self {
            generation,
            cancelled,
            void: None,
        }
    }

    /// The mark a callback's answer to `occurrence` of `generation`, in a call started at
    /// `started_at`, raises: it stopped the timer (`moved_to` is `None`) or moved its next
    /// occurrence to `moved_to`. Worker and scheduler compute it alike, so raising it twice is
    /// one raise.
    pub fn answered(
        generation: u64,
        occurrence: u64,
        started_at: DateTime<Utc>,
        moved_to: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            generation,
            cancelled: false,
            void: Some(Void {
                after: occurrence,
                from: started_at,
                until: moved_to,
            }),
        }
    }

    /// Whether `fire` must not be called: a newer definition exists, this one was cancelled,
    /// or a callback's answer voided this scheduled occurrence. An ad hoc run (`:trigger`) is
    /// never voided by an answer: it was asked for on its own.
    pub fn supersedes(&self, fire: &Fire) -> bool {
        if self.generation != fire.generation {
            return self.generation > fire.generation;
        }
        if self.cancelled {
            return true;
        }
        self.void.is_some_and(|void| {
            !fire.triggered
                && fire.occurrence > void.after
                && fire.occurrence_due_at >= void.from
                && void
                    .until
                    .is_none_or(|until| fire.occurrence_due_at < until)
        })
    }

    /// Marks only rise: a newer generation, the same one cancelled, or an answer to a later
    /// occurrence of it.
    pub fn is_above(&self, other: &Mark) -> bool {
        self.rank() > other.rank()
    }

    fn rank(&self) -> (u64, bool, Option<u64>) {
        (self.generation, self.cancelled, self.void.map(|v| v.after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{Namespace, TimerId};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn fire(generation: u64, occurrence: u64, due: &str, triggered: bool) -> Fire {
        Fire {
            namespace: Namespace::parse("ns").unwrap(),
            id: TimerId::parse("t").unwrap(),
            generation,
            occurrence,
            attempt: 1,
            due_at: t(due),
            occurrence_due_at: t(due),
            triggered,
            subscriber: None,
            fan_out: 0,
            command: false,
            replay: false,
            trace: None,
        }
    }

    #[test]
    fn definitions_and_cancellations_supersede_older_fires() {
        let mark = Mark::of(7, false);
        assert!(mark.supersedes(&fire(6, 1, "2026-01-01T00:00:00Z", false)));
        assert!(!mark.supersedes(&fire(7, 1, "2026-01-01T00:00:00Z", false)));
        assert!(!mark.supersedes(&fire(8, 1, "2026-01-01T00:00:00Z", false)));
        assert!(Mark::of(7, true).supersedes(&fire(7, 1, "2026-01-01T00:00:00Z", true)));
        assert!(Mark::of(7, true).is_above(&mark));
        assert!(!mark.is_above(&Mark::of(7, true)));
        assert!(
            Mark::of(9, false).is_above(&Mark::of(7, true)),
            "a new definition"
        );
    }

    #[test]
    fn an_answer_voids_the_later_scheduled_occurrences_it_stopped_or_moved() {
        let started = "2026-01-01T00:00:01Z";
        let stopped = Mark::answered(7, 2, t(started), None);
        assert!(
            !stopped.supersedes(&fire(7, 2, started, false)),
            "its own occurrence"
        );
        assert!(stopped.supersedes(&fire(7, 3, "2026-01-01T00:00:02Z", false)));
        assert!(stopped.supersedes(&fire(7, 9, "2027-01-01T00:00:00Z", false)));
        assert!(
            !stopped.supersedes(&fire(7, 3, "2026-01-01T00:00:02Z", true)),
            "a trigger"
        );
        assert!(
            !stopped.supersedes(&fire(8, 1, "2026-01-01T00:00:02Z", false)),
            "a new definition"
        );

        let moved = Mark::answered(7, 2, t(started), Some(t("2026-01-01T00:00:10Z")));
        assert!(moved.supersedes(&fire(7, 3, "2026-01-01T00:00:02Z", false)));
        assert!(
            !moved.supersedes(&fire(7, 3, "2026-01-01T00:00:10Z", false)),
            "the moved one"
        );
        assert!(
            !moved.supersedes(&fire(7, 4, "2026-01-01T00:00:11Z", false)),
            "after it"
        );
    }

    #[test]
    fn marks_only_rise() {
        let answered = Mark::answered(7, 2, t("2026-01-01T00:00:01Z"), None);
        assert!(answered.is_above(&Mark::of(7, false)));
        assert!(Mark::of(7, true).is_above(&answered));
        assert!(Mark::of(8, false).is_above(&answered));
        assert!(Mark::answered(7, 3, t("2026-01-01T00:00:02Z"), None).is_above(&answered));
        assert!(
            !answered.is_above(&answered),
            "the same answer twice is one raise"
        );
        let json = serde_json::to_string(&Mark::of(3, false)).unwrap();
        assert_eq!(
            json, r#"{"generation":3,"cancelled":false}"#,
            "older marks read alike"
        );
    }
}
