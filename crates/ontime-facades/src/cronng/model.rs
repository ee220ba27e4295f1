//! Jobs and procs in native terms, as pure functions: what native timer each is, and how a
//! native timer (its view, stored or just applied) and its execution log read as CronNG's
//! documents. No I/O and no clock.
//!
//! - A **job** is a paused timer due at the last instant ontime knows (so it never fires:
//!   it is the template of its procs), whose target is the command `definition` (run by
//!   `/bin/sh -c`, for up to 24 hours), one attempt, metadata `facade: cronng`,
//!   `cronng.kind: job`, `cronng.name: <name>`.
//! - A **proc** is a timer whose target is a copy of its job's command target when it was
//!   created, one attempt, metadata `facade: cronng`, `cronng.kind: proc`, `cronng.job: <job
//!   id>`, `cronng.trigger: CRON|ADHOC`; a CRON proc's schedule is its crontab in UTC, an
//!   ADHOC proc's the instant it was created.

use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use ontime_core::HumanDuration;
use ontime_core::limits::LATEST;
use ontime_core::metadata::{Metadata, TimerFilter};
use ontime_core::retry::RetryPolicy;
use ontime_core::schedule::Schedule;
use ontime_core::target::{CommandTarget, MAX_COMMAND_TIMEOUT, Target};
use ontime_core::timer::{Attempt, AttemptOutcome, TimerSpec, TimerStatus, TimerView};
use serde::Serialize;

use super::fields::{ADHOC, CRON, Trigger};

/// The metadata entry that marks a timer as one of the facade's.
pub const FACADE_KEY: &str = "facade";
pub const FACADE: &str = "cronng";
/// Whether the timer is a job or a proc.
pub const KIND_KEY: &str = "cronng.kind";
pub const JOB: &str = "job";
pub const PROC: &str = "proc";
/// A job's name.
pub const NAME_KEY: &str = "cronng.name";
/// A proc's job, and how it is triggered.
pub const JOB_KEY: &str = "cronng.job";
pub const TRIGGER_KEY: &str = "cronng.trigger";

/// The listing filter of the facade's jobs or procs (`kind`), those of job `job` alone
/// when given.
pub fn filter(kind: &str, job: Option<&str>, status: Option<TimerStatus>) -> TimerFilter {
    let mut filter = TimerFilter::status(status);
    filter.metadata = marks(kind);
    if let Some(job) = job {
        filter.metadata.insert(JOB_KEY.into(), job.into());
    }
    filter
}

fn marks(kind: &str) -> Metadata {
    Metadata::from([
        (FACADE_KEY.to_owned(), FACADE.to_owned()),
        (KIND_KEY.to_owned(), kind.to_owned()),
    ])
}

/// Whether `view` is one of the facade's timers of `kind`.
pub fn is(view: &TimerView, kind: &str) -> bool {
    let entry = |key: &str| view.metadata.get(key).map(String::as_str);
    entry(FACADE_KEY) == Some(FACADE) && entry(KIND_KEY) == Some(kind)
}

/// One attempt per run: a failed run is logged, not run again.
fn once() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    }
}

/// The native definition of job `name`, to be created paused.
pub fn job_spec(name: &str, definition: &str) -> TimerSpec {
    let mut metadata = marks(JOB);
    metadata.insert(NAME_KEY.into(), name.into());
    TimerSpec {
        schedule: Schedule::at(LATEST),
        target: Target {
            command: Some(CommandTarget {
                run: definition.to_owned(),
                env: Default::default(),
                dir: None,
                // CronNG never stopped a run: the longest ontime allows.
                timeout: Some(HumanDuration::from(MAX_COMMAND_TIMEOUT)),
            }),
            ..Target::default()
        },
        retry: once(),
        metadata,
    }
}

/// A crontab's native schedule: the same expression, in UTC. Five fields are classic cron
/// for the native parser (minute first, at second 0).
pub fn cron_schedule(crontab: &str) -> Schedule {
    Schedule {
        timezone: Some("UTC".into()),
        ..Schedule::cron(crontab)
    }
}

/// The native definition of a proc of job `job_id` (whose command target is `command`),
/// started by `trigger`, created at `now`.
pub fn proc_spec(
    job_id: &str,
    command: &CommandTarget,
    trigger: &Trigger,
    now: DateTime<Utc>,
) -> TimerSpec {
    let mut metadata = marks(PROC);
    metadata.insert(JOB_KEY.into(), job_id.into());
    metadata.insert(TRIGGER_KEY.into(), trigger.name().into());
    TimerSpec {
        schedule: match trigger {
            Trigger::Cron(crontab) => cron_schedule(crontab),
            Trigger::Adhoc => Schedule::at(now),
        },
        target: Target {
            command: Some(command.clone()),
            ..Target::default()
        },
        retry: once(),
        metadata,
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub definition: String,
    pub created_at: String,
}

/// A job where only its id and name are shown (beside its procs, or its log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRef {
    pub id: String,
    pub name: String,
}

impl From<&Job> for JobRef {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id.clone(),
            name: job.name.clone(),
        }
    }
}

/// The job `view` is, if it is one.
pub fn job(view: &TimerView) -> Option<Job> {
    if !is(view, JOB) {
        return None;
    }
    Some(Job {
        id: view.id.clone(),
        name: view.metadata.get(NAME_KEY)?.clone(),
        definition: view.target.command.as_ref()?.run.clone(),
        created_at: stamp(view.created_at),
    })
}

/// A proc as `GET /procs/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proc {
    pub id: String,
    pub job_id: String,
    pub trigger_type: &'static str,
    /// CRON only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crontab: Option<String>,
    pub start_at: Option<String>,
}

/// A proc as its job's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub id: String,
    pub trigger_type: &'static str,
    pub start_at: Option<String>,
}

/// A proc as its creation answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    pub id: String,
    pub job_id: String,
    pub created_at: String,
    pub start_at: Option<String>,
}

/// The proc `view` is, if it is one.
pub fn proc(view: &TimerView) -> Option<Proc> {
    if !is(view, PROC) {
        return None;
    }
    let trigger_type = match view.metadata.get(TRIGGER_KEY)?.as_str() {
        CRON => CRON,
        ADHOC => ADHOC,
        _ => return None,
    };
    Some(Proc {
        id: view.id.clone(),
        job_id: view.metadata.get(JOB_KEY)?.clone(),
        trigger_type,
        crontab: (trigger_type == CRON)
            .then(|| view.schedule.cron.clone())
            .flatten(),
        start_at: start_at(view).map(stamp),
    })
}

impl From<Proc> for Listed {
    fn from(p: Proc) -> Self {
        Self {
            id: p.id,
            trigger_type: p.trigger_type,
            start_at: p.start_at,
        }
    }
}

/// Whether the proc is among its job's current processes: one that has not finished (a
/// CRON proc never does; an ADHOC one has once its run has ended) and was not stopped.
pub fn current(view: &TimerView) -> bool {
    !view.status.is_final()
}

/// "The nearest time the process is started or will be started":
/// - CRON: while a run is in flight, the instant it was due (and started: a run starts at
///   its due instant); otherwise the next due instant;
/// - ADHOC: when its run started, once it has run; before, the instant it is due.
///
/// `None` for a proc that will not start (paused, or stopped).
pub fn start_at(view: &TimerView) -> Option<DateTime<Utc>> {
    let cron = view.metadata.get(TRIGGER_KEY).map(String::as_str) == Some(CRON);
    if !cron {
        return match &view.last_result {
            Some(attempt) => Some(attempt.started_at),
            None => view.next_fire_at,
        };
    }
    let next = view.next_fire_at?;
    if view.status == TimerStatus::Running && !view.in_flight.is_empty() {
        return previous(&view.schedule, view.created_at, next).or(Some(next));
    }
    Some(next)
}

/// The schedule's last occurrence strictly before `before`, searched over windows that
/// double from a minute to some 30 years back.
pub fn previous(
    schedule: &Schedule,
    anchor: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut span = TimeDelta::minutes(1);
    for _ in 0..24 {
        let from = before.checked_sub_signed(span)?;
        let within = |at: &DateTime<Utc>| *at < before;
        if let Some(mut at) = schedule.next_after(anchor, from).filter(within) {
            while let Some(next) = schedule.next_after(anchor, at).filter(within) {
                at = next;
            }
            return Some(at);
        }
        span = span.checked_mul(2)?;
    }
    None
}

/// One run of a proc, as the job's log shows it: how it ended, when, and (an addition to
/// the document) the start of what it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub proc_id: String,
    pub result: &'static str,
    pub code: i32,
    pub start_at: String,
    pub end_at: String,
    pub stdout: String,
    pub stderr: String,
}

/// The log entry of `attempt`, if it is a run (an attempt that made no run, such as one
/// superseded or skipped, is not one).
pub fn log_entry(proc_id: &str, attempt: &Attempt) -> Option<LogEntry> {
    let run = attempt.run.as_ref()?;
    Some(LogEntry {
        proc_id: proc_id.to_owned(),
        result: if attempt.outcome == AttemptOutcome::Succeeded {
            "SUCCESS"
        } else {
            "FAILED"
        },
        code: run.code(),
        start_at: stamp(attempt.started_at),
        end_at: stamp(run.ended_at),
        stdout: run.stdout.clone(),
        stderr: run.stderr.clone(),
    })
}

/// The job's log: the runs of its procs (`(stream sequence, attempt)` each), newest first:
/// by start, then by the order they were logged in.
pub fn log<'a>(runs: impl IntoIterator<Item = (&'a str, u64, &'a Attempt)>) -> Vec<LogEntry> {
    let mut found: Vec<(DateTime<Utc>, u64, LogEntry)> = runs
        .into_iter()
        .filter_map(|(proc_id, seq, attempt)| {
            Some((attempt.started_at, seq, log_entry(proc_id, attempt)?))
        })
        .collect();
    found.sort_by_key(|(start, seq, _)| std::cmp::Reverse((*start, *seq)));
    found.into_iter().map(|(_, _, entry)| entry).collect()
}

/// RFC 3339 in UTC to the second: `2001-01-01T00:00:00Z`.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.trunc_subsecs(0)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests;
