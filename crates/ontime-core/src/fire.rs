//! The messages between the scheduler and the workers: a `WakeUp` tells a scheduler that a
//! timer is about to fall due; a `Fire` tells a worker to make one call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{Namespace, SubscriberId, TimerId, TimerKey};
use crate::timer::{Attempt, delivery_id};

/// One pending wake-up: an occurrence (or a retry of it) due at `due_at`. A scheduler acts on
/// it only if the timer's record still expects exactly this one, so stale wake-ups are harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeUp {
    pub namespace: Namespace,
    pub id: TimerId,
    pub generation: u64,
    pub occurrence: u64,
    /// 1 for an occurrence's first attempt; more for a retry the scheduler holds.
    pub attempt: u32,
    pub due_at: DateTime<Utc>,
}

impl WakeUp {
    pub fn key(&self) -> TimerKey {
        TimerKey::new(self.namespace.clone(), self.id.clone())
    }

    /// The fire stream's de-duplication id: equal for every emission of this same attempt, so
    /// two schedulers, or one that crashed and retried, publish it once.
    pub fn fire_msg_id(&self) -> String {
        format!(
            "{}/a{}",
            delivery_id(&self.key(), self.generation, self.occurrence),
            self.attempt
        )
    }
}

/// One call to make. It names the occurrence, not the request: the worker reads the timer's
/// record before every attempt, so a call is never made with a definition that was changed or
/// deleted after the fire was emitted (and the record is the one source of truth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fire {
    pub namespace: Namespace,
    pub id: TimerId,
    pub generation: u64,
    pub occurrence: u64,
    /// The attempt number of this message's first delivery; redeliveries add to it.
    pub attempt: u32,
    pub due_at: DateTime<Utc>,
    /// When the occurrence's first attempt was due: `max_duration` counts from here.
    pub occurrence_due_at: DateTime<Utc>,
    /// An ad hoc run (`:trigger`), outside the schedule: a callback's answer that stops the
    /// timer or moves its next occurrence voids scheduled occurrences, never this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub triggered: bool,
    /// For a topic timer, the subscriber this fire delivers to; `None` for the occurrence
    /// itself (which a worker fans out into one fire per subscriber).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<SubscriberId>,
    /// With `subscriber`: how many subscribers the occurrence was fanned out to.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fan_out: u32,
    /// The timer runs a command: the fire goes to the command workers, never to the others.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub command: bool,
    /// A replay of a dead letter: one more attempt of a delivery that had failed for good.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
    /// The trace the call belongs to: the one of the request that defined the timer (or
    /// triggered this call), if it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::TraceParent>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Fire {
    pub fn key(&self) -> TimerKey {
        TimerKey::new(self.namespace.clone(), self.id.clone())
    }

    /// The `webhook-id` header: stable across the retries and redeliveries of one occurrence
    /// (of one subscriber's delivery of it, for a topic: `<ns>/<id>/<gen>/<occ>/<subscriber>`).
    pub fn delivery_id(&self) -> String {
        let occurrence = delivery_id(&self.key(), self.generation, self.occurrence);
        match &self.subscriber {
            Some(subscriber) => format!("{occurrence}/{subscriber}"),
            None => occurrence,
        }
    }

    /// The fire that delivers this occurrence to `subscriber`, one of `fan_out`, first
    /// attempt.
    pub fn for_subscriber(&self, subscriber: SubscriberId, fan_out: u32) -> Fire {
        Fire {
            attempt: 1,
            due_at: self.occurrence_due_at,
            subscriber: Some(subscriber),
            fan_out,
            ..self.clone()
        }
    }

    /// The fire stream's de-duplication id: `<delivery id>/a<attempt>`, equal for every
    /// emission of this same attempt (two schedulers, or one that retried after a crash).
    pub fn msg_id(&self) -> String {
        format!("{}/a{}", self.delivery_id(), self.attempt)
    }

    /// Whether the occurrence this fire calls has already ended, by what the timer's record
    /// says its last result was: a final outcome of the same definition and occurrence. Such
    /// a fire is a copy that came late (delivered again after its report, or stored again by
    /// an arming that raced the first call) and must not call again. Never said of a replay of
    /// a dead letter, which is one more attempt on purpose, nor of a topic's occurrence or of
    /// one subscriber's delivery: the record's last result does not speak for them (a topic's
    /// occurrence ends with its deliveries, and a fan-out handed back must go out again).
    pub fn has_ended(&self, last_result: Option<&Attempt>) -> bool {
        if self.replay || self.subscriber.is_some() {
            return false;
        }
        last_result.is_some_and(|last| {
            last.subscriber.is_none()
                && last.generation == self.generation
                && last.occurrence == self.occurrence
                && last.outcome.is_final()
        })
    }
}
