//! Wake-ups: a timer's next occurrence, to come back to the schedulers `lead` before it is due.
//!
//! They are filed by the second they come back in, a timing wheel whose slots are subjects:
//! the wake-up itself is a plain message on `<p>.slot.<second>.<timer>` of the slots stream,
//! and one scheduled message per second (`<p>.tick.<second>`, on the schedule stream) comes
//! back when that second starts, on `<p>.ticked.<second>`, for every wake-up of the second.
//! The scheduler that takes the tick reads the second's wake-ups, fires them, then purges
//! them. NATS fires scheduled messages one at a time at about two disk barriers each under
//! `sync_interval: always`, so one per timer could not keep up with thousands of calls a
//! second; one per second costs the same whatever the number of timers in it.
//!
//! A timer armed again leaves its older wake-up where it was; the scheduler that reads it
//! there finds that the timer no longer expects it, and drops it.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ontime_core::fire::WakeUp;

use crate::batch::{self, Outgoing};
use crate::names::Names;
use crate::{NatsError, headers};

/// The second (of the Unix epoch) a wake-up coming back at `at` is filed under. Its tick
/// comes back when the second starts, so a wake-up arrives up to a second before `at`.
pub fn second_of(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

/// The timing wheel: where wake-ups are filed, read and cleared, and ticks stored.
#[derive(Clone)]
pub struct Wheel {
    js: async_nats::jetstream::Context,
    names: Names,
}

impl Wheel {
    pub(crate) fn new(js: async_nats::jetstream::Context, names: Names) -> Self {
        Self { js, names }
    }

    /// Stores `wake` to come back at `at`: the wake-up, then its second's tick. The two are on
    /// different streams, so the tick waits for the wake-up's ack: it must not come back before
    /// the wake-up is there to be read.
    pub async fn publish(&self, wake: &WakeUp, at: DateTime<Utc>) -> Result<(), NatsError> {
        let (js, names) = (&self.js, &self.names);
        let second = second_of(at);
        batch::publish(js, vec![entry(names, wake, second)?]).await?;
        batch::publish(js, vec![tick(names, second)]).await?;
        Ok(())
    }

    /// Stores many wake-ups: the wake-ups in atomic batches (a few disk barriers for up to a
    /// thousand under `sync_interval: always`), then one tick per second they fall in. An
    /// atomic batch the server refuses is stored again one wake-up at a time, which is
    /// harmless: a wake-up replaces its timer's previous one of the same second. Not a set
    /// small enough to have gone one by one already, nor a batch that got no answer (one by
    /// one, they would most likely wait as long again): the caller is told, and its command's
    /// redelivery stores them again.
    pub async fn publish_all(&self, wakes: &[(WakeUp, DateTime<Utc>)]) -> Result<(), NatsError> {
        let (js, names) = (&self.js, &self.names);
        for chunk in wakes.chunks(batch::MAX) {
            let messages = chunk
                .iter()
                .map(|(wake, at)| entry(names, wake, second_of(*at)))
                .collect::<Result<Vec<_>, _>>()?;
            if let Err(e) = batch::publish(js, messages.clone()).await {
                if messages.len() < batch::WORTH_IT || matches!(e, NatsError::TimedOut) {
                    return Err(e);
                }
                tracing::debug!(error = %e, "a batch of wake-ups was refused; storing them one by one");
                batch::each(js, messages)
                    .await
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()?;
            }
        }
        let mut seconds: Vec<i64> = wakes.iter().map(|(_, at)| second_of(*at)).collect();
        seconds.sort_unstable();
        seconds.dedup();
        for chunk in seconds.chunks(batch::MAX) {
            let ticks = chunk.iter().map(|s| tick(names, *s)).collect();
            batch::publish(js, ticks).await?;
        }
        Ok(())
    }

    /// The wake-ups filed under `second`, with their stream sequences, in the order stored. A
    /// read that a replica behind the leader answered is an error (see
    /// [`crate::streams::for_each_pending`]): the tick comes again, rather than a second taken as
    /// empty, acknowledged, and its wake-ups left unfired.
    pub async fn read_second(&self, second: i64) -> Result<Vec<(WakeUp, u64)>, NatsError> {
        let (js, names) = (&self.js, &self.names);
        let stream = js
            .get_stream_no_info(names.slots_stream())
            .await
            .map_err(NatsError::nats)?;
        let entries = crate::streams::read_all(
            &stream,
            names.slot_all(second),
            async_nats::jetstream::consumer::DeliverPolicy::All,
        )
        .await?;
        let mut wakes = Vec::with_capacity(entries.len());
        for (payload, seq, _) in entries {
            match serde_json::from_slice(&payload) {
                Ok(wake) => wakes.push((wake, seq)),
                Err(e) => tracing::error!(error = %e, second, "an unreadable wake-up; dropped"),
            }
        }
        Ok(wakes)
    }

    /// Stores the tick of a past `second` again if wake-ups are still filed under it, and says
    /// whether it did. A second's wake-ups are cleared once fired, so any left well after the
    /// second has passed were not taken: a tick that never came back, or one handled without
    /// seeing them. The new tick comes back at once; reading a second twice is harmless.
    pub async fn tick_again_if_left(&self, second: i64) -> Result<bool, NatsError> {
        let (js, names) = (&self.js, &self.names);
        let stream = js
            .get_stream_no_info(names.slots_stream())
            .await
            .map_err(NatsError::nats)?;
        if crate::streams::last_sequence(&stream, &names.slot_all(second))
            .await?
            .is_none()
        {
            return Ok(false);
        }
        batch::publish(js, vec![tick(names, second)]).await?;
        Ok(true)
    }

    /// Purges the wake-ups of `second` stored up to sequence `last` (one disk barrier for all of
    /// them): those stored since, by an arming that raced the read, stay for the tick it
    /// published again.
    pub async fn clear_second(&self, second: i64, last: u64) -> Result<(), NatsError> {
        let (js, names) = (&self.js, &self.names);
        let stream = js
            .get_stream_no_info(names.slots_stream())
            .await
            .map_err(NatsError::nats)?;
        stream
            .purge()
            .filter(names.slot_all(second))
            .sequence(last + 1)
            .await
            .map_err(NatsError::nats)?;
        Ok(())
    }
}

fn entry(names: &Names, wake: &WakeUp, second: i64) -> Result<Outgoing, NatsError> {
    let body =
        Bytes::from(serde_json::to_vec(wake).map_err(|e| NatsError::Corrupt(e.to_string()))?);
    Ok(Outgoing {
        subject: names.slot_subject(second, &wake.key()),
        headers: async_nats::HeaderMap::new(),
        body,
    })
}

/// The scheduled message that comes back when `second` starts. Stored again by every
/// arming into the second, so a tick that came back before a wake-up was filed comes back
/// once more for it.
fn tick(names: &Names, second: i64) -> Outgoing {
    let at = DateTime::<Utc>::from_timestamp(second, 0).unwrap_or_default();
    Outgoing {
        subject: names.tick_subject(second),
        headers: headers::scheduled_at(at, &names.ticked_subject(second)),
        body: Bytes::new(),
    }
}
