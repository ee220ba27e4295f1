//! The verdict: the ledger of acknowledged timers against the calls the sink received.
//!
//! Rules (see the issue behind `make chaos`):
//! - An occurrence is *expected* when its timer's PUT was acknowledged (200, 201, or 202:
//!   durable, applied later) and no DELETE was sent for it. A one-time timer has one
//!   occurrence, a recurring one [`RUNS`].
//! - An occurrence is *delivered* when the sink answered 2xx to a call carrying its
//!   `webhook-id` (calls answered 500 on purpose are retries, not deliveries).
//! - *Lost*: an expected occurrence not delivered by the end of quiescence.
//! - *Duplicate*: a call for a `webhook-id` after the call that was answered 2xx. Duplicates
//!   are allowed (at-least-once) when they carry the same `webhook-id`.
//! - *Unrecognisable*: a call without a well-formed `webhook-id` naming its timer, two
//!   generations of one timer, two occurrences of a one-time timer, more than [`RUNS`]
//!   occurrences of a recurring one: a duplicate the receiver could not de-duplicate.
//! - *Fired after delete*: a call that arrived after a DELETE was answered 200 (applied),
//!   before the timer was due. A call between sending the DELETE and its answer is allowed,
//!   and so is one after a DELETE answered too late. A 202 answer says the delete is durable
//!   and will be applied, not that it was applied before the due time (ontime's README says
//!   so): calls after a 202 are counted and shown, not judged.
//! - Timers whose PUT was not acknowledged may fire or not; they are counted, never judged.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::faults::{Fault, Kind};
use crate::load::{Answer, EVERY, NAMESPACE, Plan, RUNS, TimerRec, index_of};
use crate::procs::UnexpectedExit;
use crate::sink::Call;
use crate::util::{quantile, stamp};

/// A call due this long after a fault ended still counts as "during a fault".
pub const FAULT_WINDOW: Duration = Duration::from_secs(10);

/// The calls of one occurrence (one `webhook-id`).
#[derive(Debug, Default)]
struct Occurrence<'a> {
    generation: u64,
    number: u64,
    calls: Vec<&'a Call>,
}

impl Occurrence<'_> {
    fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.calls
            .iter()
            .find(|c| (200..300).contains(&c.status))
            .map(|c| c.at)
    }
}

/// What the sink saw of one timer.
#[derive(Debug, Default)]
struct Seen<'a> {
    /// By `webhook-id`.
    occurrences: BTreeMap<String, Occurrence<'a>>,
    /// Calls whose `webhook-id` is missing or does not name this timer.
    malformed: Vec<&'a Call>,
    all: Vec<&'a Call>,
}

/// `<ns>/<id>/<generation>/<occurrence>` of timer `id`, or `None`.
fn parse_webhook_id(webhook_id: &str, id: &str) -> Option<(u64, u64)> {
    let mut parts = webhook_id.split('/');
    let (ns, timer, generation, occurrence) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || ns != NAMESPACE || timer != id {
        return None;
    }
    Some((generation.parse().ok()?, occurrence.parse().ok()?))
}

fn group(calls: &[Call], timers: usize) -> (Vec<Seen<'_>>, usize) {
    let mut seen: Vec<Seen> = (0..timers).map(|_| Seen::default()).collect();
    let mut strangers = 0;
    for call in calls {
        let Some(s) = index_of(&call.timer).and_then(|i| seen.get_mut(i)) else {
            strangers += 1;
            continue;
        };
        s.all.push(call);
        match call
            .webhook_id
            .as_deref()
            .and_then(|w| Some((w, parse_webhook_id(w, &call.timer)?)))
        {
            Some((w, (generation, number))) => {
                let occurrence = s.occurrences.entry(w.to_owned()).or_default();
                occurrence.generation = generation;
                occurrence.number = number;
                occurrence.calls.push(call);
            }
            None => s.malformed.push(call),
        }
    }
    (seen, strangers)
}

/// How many occurrences ontime owes this timer.
fn expected(rec: &TimerRec) -> usize {
    if rec.put.acked_at().is_none() || rec.delete.is_some() {
        return 0;
    }
    match rec.plan {
        Plan::OneTime { .. } => 1,
        Plan::Recurring { .. } => RUNS as usize,
    }
}

/// The due time of occurrence `number` (from 1), when known.
fn due_of(rec: &TimerRec, number: u64) -> Option<DateTime<Utc>> {
    match rec.plan {
        Plan::OneTime { due } => (number == 1).then_some(due),
        Plan::Recurring { start } => {
            let start = start?;
            (1..=u64::from(RUNS)).contains(&number).then(|| {
                start + TimeDelta::from_std(EVERY * (number - 1) as u32).unwrap_or_default()
            })
        }
    }
}

/// The last moment anything is due (for the quiescence deadline).
fn last_due(rec: &TimerRec) -> DateTime<Utc> {
    let span = TimeDelta::from_std(EVERY * RUNS).unwrap_or_default();
    match rec.plan {
        Plan::OneTime { due } => due,
        Plan::Recurring { start: Some(start) } => start + span,
        Plan::Recurring { start: None } => rec.put.acked_at().unwrap_or(rec.sent_at) + span,
    }
}

/// For the wait for quiescence: expected occurrences not delivered yet (only those due
/// before `cutoff`, if given), and the last due time of any timer.
pub fn pending(
    timers: &[TimerRec],
    calls: &[Call],
    cutoff: Option<DateTime<Utc>>,
) -> (usize, Option<DateTime<Utc>>) {
    let (seen, _) = group(calls, timers.len());
    let mut missing = 0;
    for (rec, seen) in timers.iter().zip(&seen) {
        let delivered = seen
            .occurrences
            .values()
            .filter(|o| o.delivered_at().is_some())
            .count();
        let want = match cutoff {
            None => expected(rec),
            // Occurrences of unknown due time count as due.
            Some(cutoff) => (1..=expected(rec) as u64)
                .filter(|&n| due_of(rec, n).is_none_or(|due| due < cutoff))
                .count(),
        };
        missing += want.saturating_sub(delivered);
    }
    (missing, timers.iter().map(last_due).max())
}

/// Lateness figures of one group of first attempts, in milliseconds.
#[derive(Debug, Default)]
struct Lateness(Vec<i64>);

impl Lateness {
    fn line(&mut self, label: &str) -> String {
        self.0.sort_unstable();
        let q = |p| quantile(&self.0, p).map_or("-".to_owned(), |v| format!("{v}"));
        format!(
            "  {label:<34} n={:<6} p50={:>6} p90={:>6} p99={:>6} max={:>6} ms",
            self.0.len(),
            q(0.5),
            q(0.9),
            q(0.99),
            q(1.0)
        )
    }
}

/// One lost or misfired timer, with what is needed to investigate it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub id: String,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub report: String,
    pub lost: Vec<Problem>,
    pub after_delete: Vec<Problem>,
    pub unrecognisable: Vec<Problem>,
}

impl Verdict {
    pub fn failed(&self) -> bool {
        !self.lost.is_empty() || !self.after_delete.is_empty() || !self.unrecognisable.is_empty()
    }
}

fn answer_text(answer: &Answer) -> String {
    match answer {
        Answer::Pending => "pending".into(),
        Answer::Acked {
            status,
            at,
            gateway,
            tries,
        } => format!(
            "{status} at {} via gateway-{} (try {tries})",
            stamp(*at),
            gateway + 1
        ),
        Answer::Refused { status, body } => format!("refused {status}: {body}"),
        Answer::Unacked { last } => format!("not acknowledged: {last}"),
    }
}

fn calls_text(calls: &[&Call]) -> String {
    if calls.is_empty() {
        return "no call".into();
    }
    calls
        .iter()
        .map(|c| {
            format!(
                "{} {} attempt {} -> {}",
                stamp(c.at),
                c.webhook_id.as_deref().unwrap_or("(no webhook-id)"),
                c.attempt.map_or("?".into(), |a| a.to_string()),
                c.status
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Faults that overlap `[from, to]`, for the account of a problem.
pub fn faults_near(faults: &[Fault], from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let near: Vec<String> = faults
        .iter()
        .filter(|f| f.start <= to && f.end >= from)
        .map(|f| format!("{} {}..{}", f.label(), stamp(f.start), stamp(f.end)))
        .collect();
    if near.is_empty() {
        "none".into()
    } else {
        near.join(", ")
    }
}

/// Judges the run.
pub fn judge(
    timers: &[TimerRec],
    calls: &[Call],
    faults: &[Fault],
    unexpected: &[UnexpectedExit],
) -> Verdict {
    let (seen, strangers) = group(calls, timers.len());
    let mut v = Verdict::default();

    // Creation and deletion counts.
    let mut put_status: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut unacked, mut refused, mut one_time, mut recurring) = (0, 0, 0, 0);
    let (mut deletes, mut delete_acked, mut delete_unacked) = (0, 0, 0);
    // Answers that came on a client's retry: the windows where a duplicate is answered.
    let (mut put_retried, mut delete_retried) = (0, 0);
    let mut first_refusal = None;
    let mut unacked_why: BTreeMap<String, usize> = BTreeMap::new();
    for rec in timers {
        match &rec.put {
            Answer::Acked { status, tries, .. } => {
                *put_status.entry(*status).or_default() += 1;
                put_retried += usize::from(*tries > 1);
            }
            Answer::Refused { status, body } => {
                refused += 1;
                first_refusal.get_or_insert_with(|| format!("{status} {body}"));
            }
            Answer::Unacked { last } => {
                unacked += 1;
                *unacked_why.entry(last.clone()).or_default() += 1;
            }
            Answer::Pending => {
                unacked += 1;
                *unacked_why.entry("no answer".into()).or_default() += 1;
            }
        }
        match rec.plan {
            Plan::OneTime { .. } => one_time += 1,
            Plan::Recurring { .. } => recurring += 1,
        }
        if let Some(delete) = &rec.delete {
            deletes += 1;
            match delete.answer {
                Answer::Acked { tries, .. } => {
                    delete_acked += 1;
                    delete_retried += usize::from(tries > 1);
                }
                _ => delete_unacked += 1,
            }
        }
    }

    let mut expected_total = 0;
    let mut delivered_total = 0;
    let mut fired = 0; // delivered occurrences of any timer, acknowledged or not
    let (mut retries, mut duplicates, mut duplicated_ids, mut max_per_id) = (0, 0, 0, 0);
    let mut unacked_fired = 0;
    let mut late_delete_calls = 0;
    let mut after_202 = 0;
    let mut all = Lateness::default();
    let mut calm = Lateness::default();
    let mut during = Lateness::default();
    let mut by_fault: BTreeMap<String, Lateness> = BTreeMap::new();
    let mut acked_late = 0;

    for (rec, s) in timers.iter().zip(&seen) {
        let want = expected(rec);
        expected_total += want;
        let mut delivered = 0;
        for occurrence in s.occurrences.values() {
            max_per_id = max_per_id.max(occurrence.calls.len());
            let Some(ok_at) = occurrence.delivered_at() else {
                retries += occurrence.calls.len();
                continue;
            };
            delivered += 1;
            let before = occurrence.calls.iter().filter(|c| c.at < ok_at).count();
            let after = occurrence.calls.iter().filter(|c| c.at > ok_at).count();
            retries += before;
            duplicates += after;
            if after > 0 {
                duplicated_ids += 1;
            }
            // Lateness of the first first-attempt call, when the due time is known and the
            // timer was acknowledged before it (a PUT answered after its due time fires late
            // by construction).
            let first = occurrence.calls.iter().find(|c| c.attempt == Some(1));
            if let (Some(call), Some(due)) = (first, due_of(rec, occurrence.number)) {
                if rec.put.acked_at().is_some_and(|a| a > due) {
                    acked_late += 1;
                } else {
                    let ms = (call.at - due).num_milliseconds();
                    all.0.push(ms);
                    let window = TimeDelta::from_std(FAULT_WINDOW).unwrap_or_default();
                    let near: Vec<&Fault> = faults
                        .iter()
                        .filter(|f| f.start <= due && due <= f.end + window)
                        .collect();
                    if near.is_empty() {
                        calm.0.push(ms);
                    } else {
                        during.0.push(ms);
                        for f in near {
                            let kind = match f.kind {
                                Kind::Kill => "SIGKILL",
                                Kind::Stop => "SIGSTOP",
                            };
                            by_fault
                                .entry(format!("during {kind} {}", f.role.name()))
                                .or_default()
                                .0
                                .push(ms);
                        }
                    }
                }
            }
        }
        fired += delivered;
        delivered_total += delivered.min(want);
        if rec.put.acked_at().is_none() && !s.all.is_empty() {
            unacked_fired += 1;
        }
        let due = last_due(rec);

        if delivered < want {
            v.lost.push(Problem {
                id: rec.id.clone(),
                what: format!(
                    "{}: {} of {want} occurrence(s) delivered; {:?}, fails first {}; PUT sent {} answered {}; calls: {}; faults around: {}",
                    rec.id,
                    delivered,
                    rec.plan,
                    rec.fail_first,
                    stamp(rec.sent_at),
                    answer_text(&rec.put),
                    calls_text(&s.all),
                    faults_near(faults, rec.sent_at - TimeDelta::seconds(10), due + TimeDelta::seconds(10)),
                ),
            });
        }

        // Recognisable duplicates only: one generation, and no more occurrences than the
        // schedule has.
        let generations: std::collections::BTreeSet<u64> =
            s.occurrences.values().map(|o| o.generation).collect();
        let max_occurrences = match rec.plan {
            Plan::OneTime { .. } => 1,
            Plan::Recurring { .. } => RUNS as usize,
        };
        if !s.malformed.is_empty() || generations.len() > 1 || s.occurrences.len() > max_occurrences
        {
            v.unrecognisable.push(Problem {
                id: rec.id.clone(),
                what: format!(
                    "{}: {} webhook-id(s) (at most {max_occurrences} expected) over {} generation(s), {} malformed; {:?}; calls: {}",
                    rec.id,
                    s.occurrences.len(),
                    generations.len(),
                    s.malformed.len(),
                    rec.plan,
                    calls_text(&s.all)
                ),
            });
        }

        // Fired after delete.
        if let (Some(delete), Plan::OneTime { due }) = (&rec.delete, &rec.plan)
            && let Some(acked) = delete.answer.acked_at()
        {
            let after: Vec<&Call> = s.all.iter().copied().filter(|c| c.at > acked).collect();
            if acked >= *due {
                late_delete_calls += after.len();
            } else if !after.is_empty() {
                if matches!(delete.answer, Answer::Acked { status: 202, .. }) {
                    after_202 += 1;
                    continue;
                }
                v.after_delete.push(Problem {
                    id: rec.id.clone(),
                    what: format!(
                        "{}: due {}, PUT {}, DELETE sent {} answered {}; calls after: {}; faults around: {}",
                        rec.id,
                        stamp(*due),
                        answer_text(&rec.put),
                        stamp(delete.sent_at),
                        answer_text(&delete.answer),
                        calls_text(&after),
                        faults_near(faults, delete.sent_at - TimeDelta::seconds(10), *due + TimeDelta::seconds(10)),
                    ),
                });
            }
        }
    }

    // The report.
    let r = &mut v.report;
    let acked: usize = put_status.values().sum();
    let statuses: Vec<String> = put_status
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let _ = writeln!(
        r,
        "timers created        {} ({one_time} one-time, {recurring} recurring)",
        timers.len()
    );
    let _ = writeln!(r, "  acknowledged        {acked} ({})", statuses.join(", "));
    let why: Vec<String> = unacked_why
        .iter()
        .map(|(w, n)| format!("{w}: {n}"))
        .collect();
    let _ = writeln!(
        r,
        "  not acknowledged    {unacked} (tried for {}s; last failure: {}; {unacked_fired} of those fired anyway)",
        crate::load::RETRY_FOR.as_secs(),
        if why.is_empty() {
            "-".into()
        } else {
            why.join(", ")
        }
    );
    if refused > 0 {
        let _ = writeln!(
            r,
            "  REFUSED (4xx)       {refused}, first: {}",
            first_refusal.unwrap_or_default()
        );
    }
    let _ = writeln!(
        r,
        "deletes sent          {deletes} ({delete_acked} acknowledged, {delete_retried} of them on a retry; {delete_unacked} not)"
    );
    let _ = writeln!(r, "creates acknowledged on a retry {put_retried}");
    let _ = writeln!(r, "occurrences expected  {expected_total}");
    let _ = writeln!(r, "  delivered           {delivered_total}");
    let _ = writeln!(
        r,
        "  LOST                {}",
        expected_total - delivered_total
    );
    let _ = writeln!(r, "fired (2xx-answered occurrences, any timer) {fired}");
    let _ = writeln!(
        r,
        "calls received        {} ({retries} answered 500 on purpose or before a success)",
        calls.len()
    );
    let _ = writeln!(
        r,
        "  duplicates          {duplicates} call(s) after the success, over {duplicated_ids} webhook-id(s); most calls for one webhook-id: {max_per_id}"
    );
    let _ = writeln!(
        r,
        "  unrecognisable      {} timer(s) (webhook-id missing, malformed or not unique per occurrence)",
        v.unrecognisable.len()
    );
    let _ = writeln!(
        r,
        "  FIRED AFTER DELETE  {} timer(s) after a 200 delete; allowed: {after_202} timer(s) called after a 202 delete (durable, applied later), {late_delete_calls} call(s) after deletes answered only after the due time",
        v.after_delete.len()
    );
    if strangers > 0 {
        let _ = writeln!(r, "  calls to unknown paths {strangers}");
    }
    let _ = writeln!(r, "faults injected       {}", faults.len());
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for f in faults {
        let kind = match f.kind {
            Kind::Kill => "SIGKILL",
            Kind::Stop => "SIGSTOP",
        };
        *kinds
            .entry(format!("{kind} {}", f.role.name()))
            .or_default() += 1;
    }
    for (kind, n) in &kinds {
        let _ = writeln!(r, "  {kind:<24} {n}");
    }
    let _ = writeln!(r, "unexpected exits      {}", unexpected.len());
    for u in unexpected {
        let _ = writeln!(r, "  {} {} {}", stamp(u.at), u.name, u.status);
    }
    let _ = writeln!(
        r,
        "lateness of first attempts (arrival - due; {acked_late} left out: acknowledged after due; \"during\" = due between a fault's start and {}s after its end)",
        FAULT_WINDOW.as_secs()
    );
    let _ = writeln!(r, "{}", all.line("all"));
    let _ = writeln!(r, "{}", calm.line("no fault"));
    let _ = writeln!(r, "{}", during.line("during faults"));
    for (label, lateness) in by_fault.iter_mut() {
        let _ = writeln!(r, "{}", lateness.line(label));
    }
    v
}

/// Calls per webhook-id of the run, for the report's distribution line.
pub fn calls_per_webhook_id(calls: &[Call]) -> BTreeMap<usize, usize> {
    let mut per: HashMap<&str, usize> = HashMap::new();
    for c in calls {
        if let Some(w) = c.webhook_id.as_deref() {
            *per.entry(w).or_default() += 1;
        }
    }
    let mut histogram = BTreeMap::new();
    for n in per.values() {
        *histogram.entry(*n).or_default() += 1;
    }
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_ids() {
        assert_eq!(parse_webhook_id("chaos/t12/345/1", "t12"), Some((345, 1)));
        assert_eq!(parse_webhook_id("chaos/t13/345/1", "t12"), None);
        assert_eq!(parse_webhook_id("other/t12/345/1", "t12"), None);
        assert_eq!(parse_webhook_id("chaos/t12/345", "t12"), None);
        assert_eq!(parse_webhook_id("chaos/t12/345/1/x", "t12"), None);
    }
}
