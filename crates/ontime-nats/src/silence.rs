//! A connection that sends but hears nothing back. While connected, a client whose publishes
//! get no ack at all for a long time, though the server takes its reads, has a path to the
//! streams that loses messages or answers: in a chaos run, one scheduler's acks stopped
//! coming for minutes after a nats-server restart while its reads and deliveries went on. A
//! new connection (the client picks a server at random) takes another path; stream leaders
//! change within seconds, so a silence that lasts [`SILENCE`] is not an election.

use std::time::{Duration, Instant};

/// How long a writer goes without a single ack, its publishes timing out, before its client
/// reconnects.
pub const SILENCE: Duration = Duration::from_secs(30);

/// Reconnections forced because acks stopped coming.
pub const FORCED: &str = "ontime_nats_reconnects_forced_total";

/// What a writer has heard since its last ack.
#[derive(Debug)]
pub struct Silence {
    after: Duration,
    /// Since when acks have not come, and the client's connection count then.
    since: Option<(Instant, u64)>,
}

impl Silence {
    /// Tells to reconnect after `after` without an ack.
    pub fn new(after: Duration) -> Self {
        Self { after, since: None }
    }

    /// The server answered (an ack or a refusal).
    pub fn heard(&mut self) {
        self.since = None;
    }

    /// Publishes timed out at `now`, on a client that has connected `connects` times: whether
    /// to reconnect now. A reconnection meanwhile (forced by another writer of the client, or
    /// after a disconnect) starts the count again.
    pub fn unanswered(&mut self, now: Instant, connects: u64) -> bool {
        match self.since {
            Some((since, then)) if then == connects => {
                if now.duration_since(since) < self.after {
                    return false;
                }
                self.since = None;
                true
            }
            _ => {
                self.since = Some((now, connects));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_long_silence_on_one_connection_calls_for_another() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut silence = Silence::new(Duration::from_secs(30));
        assert!(!silence.unanswered(at(0), 1));
        assert!(!silence.unanswered(at(29), 1));
        // An ack in between: the silence starts again.
        silence.heard();
        assert!(!silence.unanswered(at(31), 1));
        assert!(!silence.unanswered(at(60), 1));
        assert!(silence.unanswered(at(61), 1));
        // Told once; the next silence is counted from its own start.
        assert!(!silence.unanswered(at(62), 2));
        // The client reconnected meanwhile: counted from then.
        assert!(!silence.unanswered(at(95), 3));
        assert!(!silence.unanswered(at(120), 3));
        assert!(silence.unanswered(at(125), 3));
    }
}
