//! Each namespace's dead-letter list (bucket `<PREFIX>_DEADLETTERS`, key `<ns>.<delivery id
//! as a token>`): the calls that failed for good, kept for the retention period, for people
//! to inspect, replay or discard. (Messages no handler could settle are another thing: see
//! [`crate::dead`].)

use async_nats::jetstream::{consumer, kv};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ontime_core::fire::Fire;
use ontime_core::id::{Namespace, encode_token};
use ontime_core::target::Target;
use ontime_core::timer::{Attempt, DeadLetter};

use crate::NatsError;
use crate::streams::for_each_pending;

/// Typed access to the dead-letter lists.
#[derive(Clone)]
pub struct DeadLetterList {
    kv: kv::Store,
}

impl DeadLetterList {
    pub(crate) fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    /// Files the delivery of `fire` as failed for good, after `attempt` on `target`
    /// (stored as the API shows it: credentials redacted, secrets masked). A replay that
    /// failed again replaces its letter, counting the replay.
    pub async fn put(
        &self,
        fire: &Fire,
        target: &Target,
        attempt: &Attempt,
        now: DateTime<Utc>,
    ) -> Result<(), NatsError> {
        let delivery_id = fire.delivery_id();
        let replays = match fire.replay {
            true => self
                .get(&fire.namespace, &encode_token(&delivery_id))
                .await?
                .map_or(1, |l| l.replays + 1),
            false => 0,
        };
        let letter = DeadLetter {
            id: encode_token(&delivery_id),
            namespace: fire.namespace.to_string(),
            timer: fire.id.to_string(),
            delivery_id,
            request: target.redacted(),
            last_attempt: attempt.clone(),
            failed_at: now,
            replays,
        };
        let body = serde_json::to_vec(&letter).map_err(|e| NatsError::Corrupt(e.to_string()))?;
        self.kv
            .put(key(&fire.namespace, &letter.id), Bytes::from(body))
            .await
            .map(drop)
            .map_err(NatsError::nats)
    }

    /// A letter by its id; `None` when there is none.
    pub async fn get(&self, ns: &Namespace, id: &str) -> Result<Option<DeadLetter>, NatsError> {
        let Some(value) = self.kv.get(key(ns, id)).await.map_err(NatsError::nats)? else {
            return Ok(None);
        };
        serde_json::from_slice(&value)
            .map(Some)
            .map_err(|e| NatsError::Corrupt(e.to_string()))
    }

    /// Takes the letter of delivery `delivery_id` off the list (no error if it is not there).
    pub async fn discard(&self, ns: &Namespace, delivery_id: &str) -> Result<(), NatsError> {
        self.kv
            .purge(key(ns, &encode_token(delivery_id)))
            .await
            .map_err(NatsError::nats)
    }

    /// The namespace's letters, newest failure first, at most `limit`.
    pub async fn list(&self, ns: &Namespace, limit: usize) -> Result<Vec<DeadLetter>, NatsError> {
        let subjects = format!("{}{}.>", self.kv.prefix, ns.token());
        let mut letters = Vec::new();
        for_each_pending(
            &self.kv.stream,
            subjects,
            consumer::DeliverPolicy::LastPerSubject,
            |payload, _, is_put| {
                if is_put && let Ok(letter) = serde_json::from_slice::<DeadLetter>(&payload) {
                    letters.push(letter);
                }
            },
        )
        .await?;
        letters.sort_by_key(|l| std::cmp::Reverse(l.failed_at));
        letters.truncate(limit);
        Ok(letters)
    }
}

fn key(ns: &Namespace, id: &str) -> String {
    format!("{}.{id}", ns.token())
}
