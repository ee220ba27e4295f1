//! The names of everything ontime keeps in NATS, defined once. A prefix (default `ontime`)
//! lets several independent installations, or parallel tests, share one server.

use ontime_core::id::{decode_token, encode_token};
use ontime_core::{Namespace, TimerKey};

/// All stream, bucket, consumer and subject names of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Default for Names {
    fn default() -> Self {
        Self {
            prefix: "ontime".into(),
        }
    }
}

impl Names {
    /// `prefix` must be lower-case ASCII letters, digits, `_` or `-` (it appears in subjects
    /// and, upper-cased, in stream names).
    pub fn new(prefix: &str) -> Result<Self, String> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 32
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self {
                prefix: prefix.to_owned(),
            })
        } else {
            Err(format!(
                "invalid prefix {prefix:?}: use 1-32 of a-z 0-9 _ -"
            ))
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn upper(&self) -> String {
        self.prefix.to_ascii_uppercase().replace('-', "_")
    }

    /// Commands: upserts, patches, deletes, controls. Work-queue retention.
    pub fn cmd_stream(&self) -> String {
        format!("{}_CMD", self.upper())
    }
    /// Scheduled wake-ups: the schedule definitions and the wake-ups they produce.
    pub fn sched_stream(&self) -> String {
        format!("{}_SCHED", self.upper())
    }
    /// Wake-ups filed by the second they are due to come back in (see
    /// [`crate::wake_ups`]); one per timer and second, read and purged a second at a time.
    pub fn slots_stream(&self) -> String {
        format!("{}_SLOTS", self.upper())
    }
    /// Calls to make, de-duplicated by attempt identity. Limits retention: an ack deletes
    /// nothing, and what every worker has settled is purged in bulk (see
    /// [`crate::fires::Fires::clear_settled`]).
    pub fn fire_stream(&self) -> String {
        format!("{}_CALLS", self.upper())
    }
    /// Command runs to make, for the command workers only (a work queue: few, and slow).
    pub fn run_stream(&self) -> String {
        format!("{}_RUNS", self.upper())
    }
    /// The execution log, bounded per timer. Workers' entries are also their reports,
    /// which the schedulers consume.
    pub fn log_stream(&self) -> String {
        format!("{}_LOG", self.upper())
    }
    /// The timers' state, one entry per timer.
    pub fn timers_bucket(&self) -> String {
        format!("{}_TIMERS", self.upper())
    }
    /// The timers' marks (newest generation, cancelled), written by deletes and new
    /// definitions only, read by the workers at the due instant.
    pub fn marks_bucket(&self) -> String {
        format!("{}_MARKS", self.upper())
    }

    /// Durable counters (see [`crate::counters`]), one key per counter.
    pub fn counters_bucket(&self) -> String {
        format!("{}_COUNTERS", self.upper())
    }

    /// Topics and their subscribers (see [`crate::topics`]), one entry per topic.
    pub fn topics_bucket(&self) -> String {
        format!("{}_TOPICS", self.upper())
    }
    /// Each namespace's calls that failed for good (see [`crate::letters`]).
    pub fn dead_letters_bucket(&self) -> String {
        format!("{}_DEADLETTERS", self.upper())
    }
    /// API tokens, signing secrets and prerequisites (see [`crate::trust`]).
    pub fn trust_bucket(&self) -> String {
        format!("{}_TRUST", self.upper())
    }
    /// The state of the flow limits: each rate's next start, each concurrency's places.
    pub fn flow_bucket(&self) -> String {
        format!("{}_FLOW", self.upper())
    }
    /// The subscribers each topic occurrence was fanned out to, kept a day.
    pub fn fan_outs_bucket(&self) -> String {
        format!("{}_FANOUTS", self.upper())
    }

    /// Messages no handler could settle (see [`crate::dead`]), kept `dead_retention`.
    pub fn dead_stream(&self) -> String {
        format!("{}_DEAD", self.upper())
    }
    /// Results of commands sent under an idempotency key, by key: what a retry is
    /// answered, and the request the key was first used for.
    pub fn idempotency_bucket(&self) -> String {
        format!("{}_IDEM", self.upper())
    }

    /// The schedulers' shared consumer of commands.
    pub fn cmd_consumer(&self) -> &'static str {
        "schedulers"
    }
    /// The schedulers' shared consumer of batches of commands: apart from single commands,
    /// so that each scheduler pulls only the few batches it applies at once.
    pub fn batch_consumer(&self) -> &'static str {
        "schedulers-batches"
    }
    /// The schedulers' shared consumer of wake-ups.
    pub fn wake_consumer(&self) -> &'static str {
        "schedulers-wake"
    }
    /// The schedulers' shared consumer of the seconds of wake-ups falling due.
    pub fn tick_consumer(&self) -> &'static str {
        "schedulers-tick"
    }
    /// The schedulers' shared consumer of the execution log: workers' reports.
    pub fn report_consumer(&self) -> &'static str {
        "schedulers-reports"
    }
    /// The workers' consumer group.
    pub fn fire_consumer(&self) -> &'static str {
        "workers"
    }
    /// The command workers' consumer group.
    pub fn run_consumer(&self) -> &'static str {
        "command-workers"
    }

    /// `<p>.cmd.>`: every command subject.
    pub fn cmd_all(&self) -> String {
        format!("{}.cmd.>", self.prefix)
    }
    /// `<p>.cmd.*.*`: every single command's subject (the `schedulers` consumer's filter).
    pub fn cmd_single_all(&self) -> String {
        format!("{}.cmd.*.*", self.prefix)
    }
    /// `<p>.cmd.*`: every batch's subject (the `schedulers-batches` consumer's filter).
    pub fn cmd_batch_all(&self) -> String {
        format!("{}.cmd.*", self.prefix)
    }
    pub fn cmd_subject(&self, key: &TimerKey) -> String {
        format!("{}.cmd.{}", self.prefix, key.subject_suffix())
    }
    /// `<p>.cmd.<ns>`: a batch of commands of one namespace (`ontime_core::command::Batch`).
    /// One token shorter than a single command's subject, and in the same stream.
    pub fn cmd_batch_subject(&self, namespace: &Namespace) -> String {
        format!("{}.cmd.{}", self.prefix, namespace.token())
    }
    /// The namespace of a batch subject; `None` for any other subject.
    pub fn namespace_of_batch_subject(&self, subject: &str) -> Option<Namespace> {
        let token = subject
            .strip_prefix(&self.prefix)?
            .strip_prefix(".cmd.")
            .filter(|t| !t.contains('.'))?;
        Namespace::parse(&decode_token(token)?).ok()
    }
    /// `<p>.dead.>`: every dead letter.
    pub fn dead_all(&self) -> String {
        format!("{}.dead.>", self.prefix)
    }
    /// `<p>.dead.<consumer>`: a message the consumer could not settle.
    pub fn dead_subject(&self, consumer: &str) -> String {
        format!("{}.dead.{}", self.prefix, encode_token(consumer))
    }
    pub fn sched_all(&self) -> String {
        format!("{}.sched.>", self.prefix)
    }
    /// The subject of a timer's schedule definition: one per timer, so a new one replaces
    /// the old and purging it cancels the wake-up.
    pub fn sched_subject(&self, key: &TimerKey) -> String {
        format!("{}.sched.{}", self.prefix, key.subject_suffix())
    }
    pub fn wake_all(&self) -> String {
        format!("{}.wake.>", self.prefix)
    }
    pub fn wake_subject(&self, key: &TimerKey) -> String {
        format!("{}.wake.{}", self.prefix, key.subject_suffix())
    }
    pub fn slots_all(&self) -> String {
        format!("{}.slot.>", self.prefix)
    }
    /// `<p>.slot.<second>.>`: the wake-ups filed under one second (of the Unix epoch).
    pub fn slot_all(&self, second: i64) -> String {
        format!("{}.slot.{second}.>", self.prefix)
    }
    /// A timer's wake-up filed under `second`: a newer one for the same second replaces it.
    pub fn slot_subject(&self, second: i64, key: &TimerKey) -> String {
        format!("{}.slot.{second}.{}", self.prefix, key.subject_suffix())
    }
    pub fn tick_all(&self) -> String {
        format!("{}.tick.>", self.prefix)
    }
    /// The scheduled message that comes back when `second` starts, for its wake-ups.
    pub fn tick_subject(&self, second: i64) -> String {
        format!("{}.tick.{second}", self.prefix)
    }
    pub fn ticked_all(&self) -> String {
        format!("{}.ticked.>", self.prefix)
    }
    /// Where the tick of `second` comes back to, for the schedulers.
    pub fn ticked_subject(&self, second: i64) -> String {
        format!("{}.ticked.{second}", self.prefix)
    }
    /// The second a tick came back for; `None` for any other subject.
    pub fn second_of_ticked_subject(&self, subject: &str) -> Option<i64> {
        subject
            .strip_prefix(&self.prefix)?
            .strip_prefix(".ticked.")?
            .parse()
            .ok()
    }
    pub fn fire_all(&self) -> String {
        format!("{}.call.>", self.prefix)
    }
    pub fn fire_subject(&self, key: &TimerKey) -> String {
        format!("{}.call.{}", self.prefix, key.subject_suffix())
    }
    /// `<p>.callat.>`: fires stored as scheduled messages, which nats-server stores on the
    /// timer's fire subject at their instant.
    pub fn fire_scheduled_all(&self) -> String {
        format!("{}.callat.>", self.prefix)
    }
    /// A timer's scheduled fire: one per timer, so a new one replaces the old one and purging
    /// the subject cancels it.
    pub fn fire_scheduled_subject(&self, key: &TimerKey) -> String {
        format!("{}.callat.{}", self.prefix, key.subject_suffix())
    }
    /// `<p>.run.>`: every command fire.
    pub fn run_all(&self) -> String {
        format!("{}.run.>", self.prefix)
    }
    pub fn run_subject(&self, key: &TimerKey) -> String {
        format!("{}.run.{}", self.prefix, key.subject_suffix())
    }
    pub fn log_all(&self) -> String {
        format!("{}.log.>", self.prefix)
    }
    pub fn log_subject(&self, key: &TimerKey) -> String {
        format!("{}.log.{}", self.prefix, key.subject_suffix())
    }

    /// The KV key of a timer.
    pub fn timer_key(&self, key: &TimerKey) -> String {
        key.subject_suffix()
    }

    /// The subject a bucket (`timers_bucket`, `marks_bucket`) stores a timer's entry on.
    pub fn kv_subject(&self, bucket: &str, key: &TimerKey) -> String {
        format!("$KV.{bucket}.{}", self.timer_key(key))
    }

    /// Parses the timer out of any per-timer subject of this installation.
    pub fn key_of_subject(&self, subject: &str) -> Option<TimerKey> {
        let rest = subject.strip_prefix(&self.prefix)?.strip_prefix('.')?;
        let (_kind, suffix) = rest.split_once('.')?;
        TimerKey::from_subject_suffix(suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip() {
        let names = Names::new("t-1").unwrap();
        let key = TimerKey::from_subject_suffix("ns.a=2Eb").unwrap();
        assert_eq!(key.id.as_str(), "a.b");
        let subject = names.fire_subject(&key);
        assert_eq!(subject, "t-1.call.ns.a=2Eb");
        assert_eq!(names.key_of_subject(&subject), Some(key.clone()));
        assert_eq!(names.cmd_stream(), "T_1_CMD");
        assert_eq!(names.counters_bucket(), "T_1_COUNTERS");
        assert!(Names::new("Bad.Prefix").is_err());

        let batch = names.cmd_batch_subject(&key.namespace);
        assert_eq!(batch, "t-1.cmd.ns");
        assert_eq!(
            names.namespace_of_batch_subject(&batch),
            Some(key.namespace.clone())
        );
        assert_eq!(names.key_of_subject(&batch), None);
        assert_eq!(
            names.namespace_of_batch_subject(&names.cmd_subject(&key)),
            None
        );
        assert_eq!(names.namespace_of_batch_subject("t-1.wake.ns"), None);

        let ticked = names.ticked_subject(1_800_000_000);
        assert_eq!(names.second_of_ticked_subject(&ticked), Some(1_800_000_000));
        assert_eq!(names.second_of_ticked_subject(&names.tick_subject(5)), None);
    }
}
