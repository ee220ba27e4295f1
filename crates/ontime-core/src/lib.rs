//! ontime's model: ids, schedules, retry math, the wire types of commands and events, and
//! their validation. This crate does no I/O and never reads the clock: every function that
//! needs "now" takes it as an argument, so the whole model can be tested deterministically.

pub mod command;
pub mod duration;
pub mod error;
pub mod fire;
pub mod flow;
pub mod id;
pub mod idempotency;
pub mod limits;
pub mod mark;
pub mod metadata;
pub mod recurrence;
pub mod retry;
pub mod schedule;
pub mod state;
pub mod target;
pub mod timer;
pub mod timing;
pub mod topic;
pub mod trace;
pub mod trust;

pub use duration::HumanDuration;
pub use error::{ErrorCode, ValidationError};
pub use id::{Namespace, SubscriberId, TimerId, TimerKey, TopicName};
pub use limits::Limits;

/// `bytes` in lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod bounds_tests;
