//! Publishing what a state change produces: fire messages (before the record is written, so
//! a crash in between repeats them under the same de-duplication ids rather than losing them)
//! and the scheduler's own execution-log entries (after). Both go through the process's
//! group-committing writers, so the fires of one instant are stored together.

use std::time::Duration;

use ontime_core::fire::Fire;
use ontime_core::timer::{Attempt, TimerRecord};
use ontime_nats::NatsError;
use ontime_nats::commit::Stored;

use crate::Ctx;

/// A fire handed to its writer and not yet confirmed: its outcome to come, and the fire, to
/// emit again.
pub struct Sent {
    fire: Fire,
    stored: Stored,
}

/// Hands the fires to their writer without waiting (the firing loop must not wait).
pub fn publish_fires(ctx: &Ctx, fires: &[Fire]) -> Result<Vec<Sent>, NatsError> {
    let mut sent = Vec::with_capacity(fires.len());
    for fire in fires {
        metrics::counter!(crate::metrics::FIRES).increment(1);
        sent.push(Sent {
            fire: fire.clone(),
            stored: ctx.topology.fires.emit(fire)?,
        });
    }
    Ok(sent)
}

/// How often a fire answered [`NatsError::InProcess`] is emitted again.
const IN_PROCESS_TRIES: u32 = 40;
const IN_PROCESS_WAIT: Duration = Duration::from_millis(50);

/// Waits until JetStream has stored every fire. A fire that another scheduler is storing at
/// this very moment under the same id ([`NatsError::InProcess`]) is not stored yet: that
/// other store may still fail (its stream leader killed before the quorum took it), and a
/// record written as fired on its word would lose the occurrence. So it is emitted again,
/// under the same id, until JetStream says it is stored (now, or as a duplicate of the other
/// one's).
pub async fn confirmed(ctx: &Ctx, sent: Vec<Sent>) -> Result<(), NatsError> {
    for Sent { fire, mut stored } in sent {
        let mut tries = 0;
        loop {
            match stored.await {
                Ok(_) => break,
                Err(NatsError::InProcess) if tries < IN_PROCESS_TRIES => {
                    tries += 1;
                    tokio::time::sleep(IN_PROCESS_WAIT).await;
                    stored = ctx.topology.fires.emit(&fire)?;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Publishes the fires and waits until they are stored.
pub async fn fires(ctx: &Ctx, fires: &[Fire]) -> Result<(), NatsError> {
    confirmed(ctx, publish_fires(ctx, fires)?).await
}

/// Appends the scheduler's own log entries (skipped occurrences). Best effort: the record
/// already counts them, so a lost entry loses only its line in the log.
pub async fn log(ctx: &Ctx, record: &TimerRecord, entries: &[Attempt]) {
    let key = record.key();
    for entry in entries {
        let stored = match ctx.topology.log.append(entry, &key) {
            Ok(stored) => stored.await,
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            tracing::warn!(error = %e, timer = %key, "a log entry was not written");
        }
    }
}
