//! A connection that sends but hears nothing back. While connected, a client whose publishes
//! get no ack at all for a long time, though the server takes its reads, has a path to the
//! streams that loses messages or answers: in a chaos run, one scheduler's acks stopped
//! coming for minutes after a nats-server restart while its reads and deliveries went on. A
//! new connection (the client picks a server at random) takes another path; stream leaders
//! change within seconds, so a silence that lasts [`SILENCE`] is not an election.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a writer (or the gateway's commands) goes without a single ack, its publishes
/// timing out, before its client reconnects.
pub const SILENCE: Duration = Duration::from_secs(30);

/// Reconnections forced because acks stopped coming.
pub const FORCED: &str = "ontime_nats_reconnects_forced_total";

/// A client's publishes, watched: its connection is made again after a long silence.
pub struct Watch {
    client: async_nats::Client,
    silence: std::sync::Mutex<Silence>,
    /// Who watches, for the log.
    who: &'static str,
}

impl Watch {
    /// Watches `client` for `who`, reconnecting after `after` without an answer.
    pub fn new(client: async_nats::Client, after: Duration, who: &'static str) -> Self {
        Self {
            client,
            silence: std::sync::Mutex::new(Silence::new(after)),
            who,
        }
    }

    /// Notes what came of publishes: `answered` when the server answered any (an ack or a
    /// refusal), not when they all timed out. Reconnects after a long silence.
    pub async fn note(&self, answered: bool) {
        let client = &self.client;
        // Disconnected, no answer is expected: the client is reconnecting already.
        let connected = client.connection_state() == async_nats::connection::State::Connected;
        let reconnect = {
            let mut silence = self.silence.lock().unwrap_or_else(|e| e.into_inner());
            if answered || !connected {
                silence.heard();
                false
            } else {
                let connects = client.statistics().connects.load(Ordering::Relaxed);
                silence.unanswered(Instant::now(), connects)
            }
        };
        if !reconnect {
            return;
        }
        tracing::warn!(
            who = self.who,
            "no ack came for a long while though the connection is up; reconnecting"
        );
        metrics::counter!(FORCED).increment(1);
        if let Err(e) = client.force_reconnect().await {
            tracing::warn!(error = %e, "reconnecting to NATS failed");
        }
    }
}

/// What a watch has heard since the last answer.
#[derive(Debug)]
struct Silence {
    after: Duration,
    /// Since when acks have not come, and the client's connection count then.
    since: Option<(Instant, u64)>,
}

impl Silence {
    /// Tells to reconnect after `after` without an ack.
    fn new(after: Duration) -> Self {
        Self { after, since: None }
    }

    /// The server answered (an ack or a refusal).
    fn heard(&mut self) {
        self.since = None;
    }

    /// Publishes timed out at `now`, on a client that has connected `connects` times: whether
    /// to reconnect now. A reconnection meanwhile (forced by another writer of the client, or
    /// after a disconnect) starts the count again.
    fn unanswered(&mut self, now: Instant, connects: u64) -> bool {
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
