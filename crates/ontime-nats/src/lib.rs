//! The NATS side of ontime: every stream, bucket, consumer and subject name is defined in
//! [`names`], the topology is created idempotently by [`topology::ensure`], and the typed
//! access that the gateway, scheduler and worker share lives in [`store`], [`marks`] and [`log`];
//! [`counters`] hands out integer ids.

pub mod batch;
pub mod commands;
pub mod commit;
pub mod connect;
pub mod counters;
pub mod dead;
pub mod fires;
pub mod flow;
pub mod headers;
pub mod idempotency;
pub mod letters;
pub mod log;
pub mod marks;
pub mod names;
pub mod pull;
pub mod replies;
pub mod retry;
pub mod settle;
pub mod silence;
pub mod store;
pub mod streams;
pub mod targets;
pub mod topics;
pub mod topology;
pub mod trust;
pub mod wake_ups;

pub use connect::connect;
pub use counters::Counters;
pub use dead::DeadLetters;
pub use idempotency::IdempotencyStore;
pub use letters::DeadLetterList;
pub use marks::MarkStore;
pub use names::Names;
pub use store::TimerStore;
pub use topics::TopicStore;
pub use topology::{Backlog, Topology, TopologyConfig};
pub use trust::{TrustStore, TrustView};

/// Errors of the NATS adapter.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    /// A compare-and-set lost: the entry is no longer at the expected revision.
    #[error("revision conflict")]
    Conflict,
    /// Another publisher is storing a message under the same de-duplication id at this very
    /// moment (JetStream's 10158): it is not stored yet, and that store may still fail.
    #[error("a message with the same id is being stored")]
    InProcess,
    /// No answer in time: what was asked may have happened all the same.
    #[error("NATS did not answer in time")]
    TimedOut,
    /// The message is larger than the server takes.
    #[error("the message is larger than NATS accepts")]
    TooLarge,
}

impl NatsError {
    pub fn nats(e: impl std::fmt::Display) -> Self {
        Self::Nats(e.to_string())
    }
}
