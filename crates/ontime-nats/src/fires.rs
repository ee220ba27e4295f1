//! Fire messages: one per attempt to make, on the timer's fire subject of the fire stream
//! (or of the command stream, for a command), which the workers consume. A scheduler may
//! also store a fire ahead, as a scheduled message that nats-server stores on the fire
//! subject at its instant ([`Fires::schedule`]). Schedulers publish
//! them for occurrences and held retries; workers for the deliveries a topic occurrence fans
//! out to; the gateway for a replayed dead letter. Each stream has one group-committing
//! writer per process ([`crate::commit`]), so fires that fall due together are stored
//! together.

use chrono::{DateTime, Utc};
use ontime_core::TimerKey;

use crate::commit::{Committer, Grouping, Stored};
use crate::names::Names;
use crate::{NatsError, batch, headers};

/// Where fires are stored.
#[derive(Clone)]
pub struct Fires {
    js: async_nats::jetstream::Context,
    names: Names,
    calls: Committer,
    commands: Committer,
}

impl Fires {
    pub(crate) fn new(
        js: &async_nats::jetstream::Context,
        names: Names,
        grouping: Grouping,
    ) -> Self {
        Self {
            js: js.clone(),
            names,
            // A fire is on the timing path: its writer never waits for a batch to fill.
            calls: Committer::start(js.clone(), "fires", grouping.without_linger()),
            commands: Committer::start(js.clone(), "command-fires", grouping.without_linger()),
        }
    }

    /// Hands `fire` to its stream's writer and returns at once; the [`Stored`] says when it
    /// is stored. De-duplicated by its attempt's id: every emission of one attempt, by any
    /// scheduler or worker, is stored once. [`NatsError::InProcess`] when another is storing
    /// the same attempt at this moment.
    pub fn emit(&self, fire: &ontime_core::fire::Fire) -> Result<Stored, NatsError> {
        let mut hdrs = async_nats::HeaderMap::new();
        hdrs.insert(headers::MSG_ID, fire.msg_id().as_str());
        let body = bytes::Bytes::from(
            serde_json::to_vec(fire).map_err(|e| NatsError::Corrupt(e.to_string()))?,
        );
        let (subject, writer) = if fire.command {
            (self.names.run_subject(&fire.key()), &self.commands)
        } else {
            (self.names.fire_subject(&fire.key()), &self.calls)
        };
        Ok(writer.submit(batch::Outgoing {
            subject,
            headers: hdrs,
            body,
        }))
    }

    /// Stores `fire` ahead as a scheduled message that nats-server stores on the timer's fire
    /// subject at `at` (a few hundred milliseconds late at worst; the worker holds an early
    /// fire until its due instant). It replaces the timer's previous scheduled fire, if any.
    /// The fire as nats-server stores it has no de-duplication id: a timer has one scheduled
    /// fire at a time, so there is nothing to de-duplicate against. Calls only, never command
    /// runs (those are on another stream).
    pub fn schedule(
        &self,
        fire: &ontime_core::fire::Fire,
        at: DateTime<Utc>,
    ) -> Result<Stored, NatsError> {
        Ok(self.calls.submit(self.scheduled(fire, at)?))
    }

    /// Stores many scheduled fires (see [`Self::schedule`]) in atomic batches.
    pub async fn schedule_all(
        &self,
        fires: &[(ontime_core::fire::Fire, DateTime<Utc>)],
    ) -> Result<(), NatsError> {
        for chunk in fires.chunks(batch::MAX) {
            let messages = chunk
                .iter()
                .map(|(fire, at)| self.scheduled(fire, *at))
                .collect::<Result<Vec<_>, _>>()?;
            batch::publish(&self.js, messages).await?;
        }
        Ok(())
    }

    fn scheduled(
        &self,
        fire: &ontime_core::fire::Fire,
        at: DateTime<Utc>,
    ) -> Result<batch::Outgoing, NatsError> {
        if fire.command {
            return Err(NatsError::Nats(
                "a command run is never stored as a scheduled fire".into(),
            ));
        }
        let key = fire.key();
        Ok(batch::Outgoing {
            subject: self.names.fire_scheduled_subject(&key),
            headers: headers::scheduled_at(at, &self.names.fire_subject(&key)),
            body: bytes::Bytes::from(
                serde_json::to_vec(fire).map_err(|e| NatsError::Corrupt(e.to_string()))?,
            ),
        })
    }

    /// Cancels the timer's scheduled fire, if it has one: purging its subject removes the
    /// schedule (about one disk barrier under `sync_interval: always`).
    pub async fn unschedule(&self, key: &TimerKey) -> Result<(), NatsError> {
        let stream = self
            .js
            .get_stream_no_info(self.names.fire_stream())
            .await
            .map_err(NatsError::nats)?;
        stream
            .purge()
            .filter(self.names.fire_scheduled_subject(key))
            .await
            .map_err(NatsError::nats)?;
        Ok(())
    }

    /// Stores `fire` (see [`Self::emit`]).
    pub async fn store(&self, fire: &ontime_core::fire::Fire) -> Result<(), NatsError> {
        self.emit(fire)?.await.map(drop)
    }

    /// Purges the calls every worker has settled: those below the workers' consumer's ack floor.
    /// One purge costs about one disk barrier however many it removes, where deleting each on its
    /// ack would cost one per call. Any worker may run it at any time; running it twice is
    /// harmless. Returns how many it purged.
    pub async fn clear_settled(&self) -> Result<u64, NatsError> {
        let names = &self.names;
        let stream = self
            .js
            .get_stream(names.fire_stream())
            .await
            .map_err(NatsError::nats)?;
        // Read before the floor, which only rises: at worst a purge with nothing to remove.
        let first = stream.cached_info().state.first_sequence;
        let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
            .get_consumer(names.fire_consumer())
            .await
            .map_err(NatsError::nats)?;
        let floor = consumer
            .info()
            .await
            .map_err(NatsError::nats)?
            .ack_floor
            .stream_sequence;
        if floor < first {
            return Ok(0);
        }
        // Only the calls: scheduled fires below the floor are still to come.
        let purged = stream
            .purge()
            .filter(names.fire_all())
            .sequence(floor + 1)
            .await
            .map_err(NatsError::nats)?;
        Ok(purged.purged)
    }
}
