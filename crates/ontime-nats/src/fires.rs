//! Fire messages: one per attempt to make, on the timer's fire subject of the fire stream,
//! which the workers consume. Schedulers publish them for occurrences and held retries;
//! workers for the deliveries a topic occurrence fans out to.

use crate::names::Names;
use crate::{NatsError, headers};

/// Publishes `fire` on its timer's fire subject, de-duplicated by its attempt's id (every
/// emission of one attempt, by any scheduler or worker, is stored once).
pub async fn publish(
    js: &async_nats::jetstream::Context,
    names: &Names,
    fire: &ontime_core::fire::Fire,
) -> Result<async_nats::jetstream::context::PublishAckFuture, NatsError> {
    let mut hdrs = async_nats::HeaderMap::new();
    hdrs.insert(headers::MSG_ID, fire.msg_id().as_str());
    let body = bytes::Bytes::from(
        serde_json::to_vec(fire).map_err(|e| NatsError::Corrupt(e.to_string()))?,
    );
    let subject = if fire.command {
        names.run_subject(&fire.key())
    } else {
        names.fire_subject(&fire.key())
    };
    js.publish_with_headers(subject, hdrs, body)
        .await
        .map_err(NatsError::nats)
}

/// Purges the calls every worker has settled: those below the workers' consumer's ack floor.
/// One purge costs about one disk barrier however many it removes, where deleting each on its
/// ack would cost one per call. Any worker may run it at any time; running it twice is
/// harmless. Returns how many it purged.
pub async fn clear_settled(
    js: &async_nats::jetstream::Context,
    names: &Names,
) -> Result<u64, NatsError> {
    let stream = js
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
    let purged = stream
        .purge()
        .sequence(floor + 1)
        .await
        .map_err(NatsError::nats)?;
    Ok(purged.purged)
}
