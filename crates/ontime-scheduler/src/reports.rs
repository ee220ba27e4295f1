//! Workers' reports: each attempt a worker writes to the execution log is also its report,
//! applied here to the timer's record (one message serves the log and the record).
//!
//! Reports about one timer are applied together: the handler that finds none of its timer's
//! under way applies its own, then every report of that timer that arrived meanwhile, each
//! group in one compare-and-set of the record (group commit). So a topic occurrence's K
//! deliveries cost a few record writes, not K writes fighting over one key, and only the
//! last record of a group is armed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_nats::jetstream::Message;
use chrono::{DateTime, Utc};
use ontime_core::TimerKey;
use ontime_core::command::{Command, CommandBody};
use ontime_core::state::{self, Applied};
use ontime_core::timer::{Attempt, TimerRecord};
use ontime_nats::NatsError;
use ontime_nats::pull::Handled;
use tokio::sync::oneshot;

use crate::Ctx;
use crate::arm::ack;
use crate::commands::position;

/// How many times a group is applied again after its write lost a compare-and-set.
const TRIES: usize = 50;

#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn handle(ctx: Arc<Ctx>, message: Message) -> Handled {
    let Some((seq, accepted_at)) = position(&message) else {
        return Handled::Done;
    };
    let rearm = ontime_nats::log::report_of(message.headers.as_ref());
    let key = ctx.topology.names().key_of_subject(&message.subject);
    let (message, delivery) = ontime_nats::settle::split(message);
    // The scheduler's own entries (skipped occurrences) are not reports.
    let Some(rearm) = rearm else {
        ack(Some(delivery.into())).await;
        return Handled::Done;
    };
    let attempt = serde_json::from_slice::<Attempt>(&message.payload);
    let (Some(key), Ok(attempt)) = (key, attempt) else {
        tracing::error!(subject = %message.subject, "an unreadable report; dropped");
        delivery.never().await;
        return Handled::Done;
    };
    let report = Report::new(
        Command::new(key, CommandBody::Report { attempt, rearm }),
        seq,
        accepted_at,
    );
    match ctx.reports.apply(&ctx, report).await {
        Grouped::Led(Ok(Some((record, revision)))) => {
            metrics::counter!(crate::metrics::COMMANDS, "outcome" => "applied").increment(1);
            if let Err(e) = ctx.arm(record, revision, Some(delivery.into())).await {
                return Handled::Failed(format!("arming failed: {e}"));
            }
            Handled::Done
        }
        Grouped::Led(Ok(None)) | Grouped::Followed(Ok(())) => {
            ack(Some(delivery.into())).await;
            Handled::Done
        }
        // Not acknowledged: the report is delivered again.
        Grouped::Led(Err(e)) | Grouped::Followed(Err(e)) => {
            drop(delivery);
            Handled::Failed(format!("applying a report failed: {e}"))
        }
    }
}

/// One report to apply.
pub struct Report {
    cmd: Command,
    seq: u64,
    accepted_at: DateTime<Utc>,
}

impl Report {
    /// `cmd` (a report), at its place in its stream.
    pub fn new(cmd: Command, seq: u64, accepted_at: DateTime<Utc>) -> Self {
        Self {
            cmd,
            seq,
            accepted_at,
        }
    }
}

/// What became of a report: applied by this handler, which leads its group and arms the
/// record the group ends with; or applied by the handler that led the group it joined.
// One per report handled, never stored in bulk: the record is not worth boxing.
#[allow(clippy::large_enum_variant)]
pub enum Grouped {
    Led(Result<Option<(TimerRecord, u64)>, String>),
    Followed(Result<(), String>),
}

/// Where a follower hears how its group went.
type Done = oneshot::Sender<Result<(), String>>;

type Waiting = Vec<(Report, Done)>;

/// Reports queued behind the group under way, per timer.
#[derive(Default)]
pub struct Groups {
    queued: Mutex<HashMap<TimerKey, Waiting>>,
}

impl Groups {
    pub async fn apply(&self, ctx: &Ctx, report: Report) -> Grouped {
        let key = report.cmd.key();
        let report = {
            let mut queued = self.queued.lock().expect("report groups lock");
            match queued.get_mut(&key) {
                Some(waiting) => {
                    let (done, result) = oneshot::channel();
                    waiting.push((report, done));
                    Err(result)
                }
                None => {
                    queued.insert(key.clone(), Vec::new());
                    Ok(report)
                }
            }
        };
        let mine = match report {
            Ok(mine) => mine,
            Err(result) => {
                return Grouped::Followed(
                    result
                        .await
                        .unwrap_or_else(|_| Err("the report's group was abandoned".to_owned())),
                );
            }
        };
        // This handler leads: its own report, then whatever queued behind it, until none is
        // left (the key is then free for the next report to lead).
        let _lead = Lead {
            groups: self,
            key: &key,
        };
        let mut batch: Vec<(Report, Option<Done>)> = vec![(mine, None)];
        loop {
            let reports: Vec<&Report> = batch.iter().map(|(r, _)| r).collect();
            let applied = apply_group(ctx, &reports).await;
            let shared = applied.as_ref().map(|_| ()).map_err(Clone::clone);
            for (_, done) in batch.drain(..) {
                if let Some(done) = done {
                    let _ = done.send(shared.clone());
                }
            }
            let mut queued = self.queued.lock().expect("report groups lock");
            let waiting = queued.get_mut(&key).map(std::mem::take).unwrap_or_default();
            if waiting.is_empty() || applied.is_err() {
                // Reports still waiting after a failure are handed back for redelivery.
                for (_, done) in waiting {
                    let _ = done.send(Err("an earlier report of its timer failed".into()));
                }
                queued.remove(&key);
                return Grouped::Led(applied);
            }
            batch = waiting
                .into_iter()
                .map(|(r, done)| (r, Some(done)))
                .collect();
        }
    }
}

/// A group's leadership of its timer: however the leader ends (a panic included), its timer
/// is freed and the reports still queued are handed back, to be delivered again.
struct Lead<'a> {
    groups: &'a Groups,
    key: &'a TimerKey,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut queued = self
            .groups
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, done) in queued.remove(self.key).unwrap_or_default() {
            let _ = done.send(Err("the report's group was abandoned".into()));
        }
    }
}

/// Applies `reports` (one timer's, in arrival order) to its record and writes it once, on
/// the revision read (a lost compare-and-set applies them again to a fresh read). The
/// record as it now stands; `None` when the timer does not exist.
pub async fn apply_group(
    ctx: &Ctx,
    reports: &[&Report],
) -> Result<Option<(TimerRecord, u64)>, String> {
    let Some(first) = reports.first() else {
        return Ok(None);
    };
    let key = first.cmd.key();
    let store = &ctx.topology.timers;
    let mut remembered = ctx.recent.take(&key);
    for _ in 0..TRIES {
        let from_memory = remembered.is_some();
        let (current, revision) = match remembered.take() {
            Some((record, revision)) => (Some(record), revision),
            None => {
                let slot = store.get(&key).await.map_err(|e| e.to_string())?;
                (slot.record, slot.revision)
            }
        };
        let mut record = current;
        let mut changed = false;
        for report in reports {
            let applied = state::apply_with(
                record.as_ref().map(|r| (r, revision)),
                &report.cmd,
                report.seq,
                report.accepted_at,
                Utc::now(),
                &ctx.config.limits,
            );
            // A report changes the record only: no fire, no log entry of the scheduler's.
            if let Ok(Applied::Changed(outcome)) = applied {
                record = Some(outcome.record);
                changed = true;
            }
        }
        // A remembered copy is checked only by the write: one that changes nothing may be
        // stale (a trigger or a redefinition applied since put an occurrence in flight that
        // it does not know of), so the reports are applied again to a fresh read.
        if from_memory && !changed {
            continue;
        }
        let Some(record) = record else {
            return Ok(None);
        };
        let revision = if changed {
            match store.write(&record, revision).await {
                Ok(revision) => {
                    ctx.recent.put(record.clone(), revision);
                    revision
                }
                Err(NatsError::Conflict) => continue,
                Err(e) => return Err(e.to_string()),
            }
        } else {
            revision
        };
        // Unchanged too: a redelivered report may have been applied by a scheduler that
        // died before raising the mark.
        for report in reports {
            raise_answer_mark(ctx, &report.cmd, &record).await?;
        }
        return Ok(Some((record, revision)));
    }
    Err("the timer's record kept changing".into())
}

/// A report of an answer that stopped the timer or moved its next occurrence raises the mark
/// that voids the occurrences it replaced (its worker raised it already; this covers a
/// worker that could not).
async fn raise_answer_mark(ctx: &Ctx, cmd: &Command, record: &TimerRecord) -> Result<(), String> {
    let CommandBody::Report { attempt, .. } = &cmd.body else {
        return Ok(());
    };
    if let Some(mark) = state::answer_mark(attempt, &ctx.config.limits) {
        ctx.topology
            .marks
            .raise(&record.key(), mark)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
