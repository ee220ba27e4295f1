//! Atomic batches: many messages of one stream stored together, all or none. Under
//! `sync_interval: always` a one-replica stream syncs its disk once per stored message, but
//! once per atomic batch (about six barriers for up to [`MAX`] messages, counting the store the
//! server stages the batch in), so every write path that carries many messages at once goes
//! through here: it is ontime's group commit.
//!
//! The protocol is three headers (`Nats-Batch-Id`, `-Sequence`, `-Commit`) on ordinary
//! publishes. The client library ontime uses does not speak it (the crate that does is built
//! on an older one), so it is written here.

use async_nats::HeaderMap;
use async_nats::jetstream;
use bytes::Bytes;

use crate::NatsError;
use crate::streams::refused;

/// The most messages the server takes in one batch.
pub const MAX: usize = 1000;

/// Fewer messages than this go one by one: the store the server stages a batch in costs
/// about as many barriers as this many separate publishes.
pub const WORTH_IT: usize = 8;

/// One message to store: where, with which headers, and what.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub subject: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Stores `messages`, all of one stream that allows atomic publishes, and returns each one's
/// stream sequence, in order.
///
/// Up to [`MAX`] messages make one batch: either all of them are stored or none is
/// ([`NatsError::Conflict`] when an expected-sequence check failed, another error otherwise).
/// Fewer than [`WORTH_IT`] are published one by one, all acks outstanding; the first refusal
/// is then returned, and the messages before it may be stored. Callers retry their items one
/// by one after a refusal, which every write of ontime tolerates.
pub async fn publish(
    js: &jetstream::Context,
    messages: Vec<Outgoing>,
) -> Result<Vec<u64>, NatsError> {
    if messages.len() < WORTH_IT {
        return one_by_one(js, messages).await;
    }
    atomic(js, messages).await
}

/// Stores `messages` (at most [`MAX`], all of one stream that allows atomic publishes) as one
/// atomic batch, whatever their number, and returns each one's stream sequence, in order:
/// all of them are stored or none is.
pub async fn atomic(
    js: &jetstream::Context,
    mut messages: Vec<Outgoing>,
) -> Result<Vec<u64>, NatsError> {
    if messages.len() > MAX {
        return Err(NatsError::Nats(format!(
            "a batch of {} messages; the most is {MAX}",
            messages.len()
        )));
    }
    let count = messages.len();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let client = js.client();
    let Some(mut commit) = messages.pop() else {
        return Ok(Vec::new());
    };
    let join = |message: &mut Outgoing, seq: usize| {
        message.headers.insert("Nats-Batch-Id", id.as_str());
        message
            .headers
            .insert("Nats-Batch-Sequence", seq.to_string().as_str());
    };
    for (i, mut message) in messages.into_iter().enumerate() {
        join(&mut message, i + 1);
        // The staged messages need no answer: a refusal of any of them is the commit's.
        client
            .publish_with_headers(message.subject, message.headers, message.body)
            .await
            .map_err(NatsError::nats)?;
    }
    join(&mut commit, count);
    commit.headers.insert("Nats-Batch-Commit", "1");
    let ack = js
        .publish_with_headers(commit.subject, commit.headers, commit.body)
        .await
        .map_err(NatsError::nats)?
        .await
        .map_err(refused)?;
    if ack.batch_size != Some(count as u64) {
        return Err(NatsError::Nats(format!(
            "a batch of {count} messages acknowledged as {:?}",
            ack.batch_size
        )));
    }
    // A batch is stored in one piece: its messages have consecutive sequences ending at the
    // commit's.
    let first = ack.sequence + 1 - count as u64;
    Ok((first..=ack.sequence).collect())
}

async fn one_by_one(
    js: &jetstream::Context,
    messages: Vec<Outgoing>,
) -> Result<Vec<u64>, NatsError> {
    each(js, messages).await.into_iter().collect()
}

/// Publishes each message with every ack outstanding, and returns each one's outcome (its
/// stream sequence), in order. The acks are awaited together: each waits the ack timeout from
/// its own publish, so acks that do not come (a stream without a leader, a route that lost
/// them) cost one timeout in all, not one after the other. Awaited in turn, `n` lost acks
/// held a writer for `n` timeouts, and every caller queued behind it as long.
pub async fn each(js: &jetstream::Context, messages: Vec<Outgoing>) -> Vec<Result<u64, NatsError>> {
    let mut acks = Vec::with_capacity(messages.len());
    for message in messages {
        acks.push(
            js.publish_with_headers(message.subject, message.headers, message.body)
                .await
                .map_err(NatsError::nats),
        );
    }
    futures::future::join_all(
        acks.into_iter()
            .map(|ack| async move { ack?.await.map(|ack| ack.sequence).map_err(refused) }),
    )
    .await
}
