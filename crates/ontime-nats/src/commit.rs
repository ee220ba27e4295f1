//! Group commit: a writer for one stream that stores what its callers hand it while its
//! previous write is under way as one atomic batch (see [`crate::batch`]). Under
//! `sync_interval: always` a one-replica stream syncs its disk once per stored message, but
//! about six times per atomic batch whatever its size; so the busier a stream gets, the
//! larger its batches and the fewer barriers per message, while a lone message still goes out
//! at once, as a plain publish.
//!
//! At a steady rate too low for messages to meet on their own (a few hundred a second), a
//! writer given a `linger` waits a little for the rest of a batch, but only when the rate it
//! sees brings them within that time: a message alone at a quiet moment still goes at once.
//!
//! Each message keeps its own outcome: a batch that the server refuses as a whole (one
//! failed compare-and-set, one duplicate message id) is published again one message at a
//! time, so that only the message at fault is refused, and de-duplication ids keep the
//! others from being stored twice.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use tokio::sync::{mpsc, oneshot};

use crate::NatsError;
use crate::batch::{self, Outgoing};
use crate::headers;
use crate::silence::{FORCED, SILENCE, Watch};

/// A message handed to the writer, and where its outcome goes.
struct Pending {
    message: Outgoing,
    done: oneshot::Sender<Result<u64, NatsError>>,
}

/// The writer of one stream; cheap to clone. Its task ends once every clone is dropped.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::UnboundedSender<Pending>,
    counts: Arc<Counts>,
}

/// Messages stored by a writer, by writer and how (`batched`, `single`).
pub const WRITES: &str = "ontime_nats_writes_total";
/// Atomic batches a writer committed, and how many messages each held.
pub const BATCH_SIZE: &str = "ontime_nats_batch_size";
/// Batches the server refused as a whole (their messages were then stored one by one).
pub const REFUSED: &str = "ontime_nats_batches_refused_total";

/// Says what each metric of the writers is (Prometheus's `# HELP`).
pub fn describe() {
    metrics::describe_counter!(
        WRITES,
        "Messages stored by a writer, by how (batched, single)"
    );
    metrics::describe_histogram!(
        BATCH_SIZE,
        "Messages in each atomic batch a writer committed"
    );
    metrics::describe_counter!(
        FORCED,
        "Reconnections to NATS forced because a writer got no ack for a long while"
    );
    metrics::describe_counter!(
        REFUSED,
        "Atomic batches refused as a whole, then stored one message at a time"
    );
}

/// How a writer groups messages: it commits `from` or more waiting messages as one atomic
/// batch, and publishes fewer one by one; 0 never batches. With fewer than `from` waiting, it
/// waits up to `linger` for the others when the rate of the last second brings them in that
/// time; zero never waits (the fires' writer: a fire is on the timing path). A writer that
/// gets no ack at all for `silence`, its publishes timing out, reconnects its client (see
/// [`crate::silence`]); so do a gateway's commands.
#[derive(Debug, Clone, Copy)]
pub struct Grouping {
    pub from: usize,
    pub linger: Duration,
    pub silence: Duration,
}

/// The linger of the writers off the timing path (log entries, timer records): at
/// [`batch::WORTH_IT`] messages per 50 ms, 160 a second, and more, their messages go in
/// batches; below that rate nothing waits.
pub const LINGER: Duration = Duration::from_millis(50);

impl Default for Grouping {
    /// Suits a server that syncs every write (`sync_interval: always`): from
    /// [`batch::WORTH_IT`] on, a batch costs fewer disk barriers than its messages one by one.
    fn default() -> Self {
        Self {
            from: batch::WORTH_IT,
            linger: LINGER,
            silence: SILENCE,
        }
    }
}

impl Grouping {
    /// The same, never waiting for a batch to fill.
    pub fn without_linger(self) -> Self {
        Self {
            linger: Duration::ZERO,
            ..self
        }
    }

    /// How long to wait for a batch to fill, if at all, with `waiting` messages waiting and
    /// `per_second` arriving: the time the rest would take to come, with a margin, if that is
    /// within `linger`.
    fn wait_for(&self, waiting: usize, per_second: f64) -> Option<Duration> {
        if self.from < 2 || waiting >= self.from || self.linger.is_zero() || per_second <= 0.0 {
            return None;
        }
        let rest = (self.from - waiting) as f64 / per_second * 1.25;
        (rest <= self.linger.as_secs_f64()).then(|| Duration::from_secs_f64(rest))
    }
}

/// Messages handed to a writer per second, counted over the last whole second.
struct Rate {
    since: Instant,
    count: u64,
    per_second: f64,
}

impl Rate {
    fn new() -> Self {
        Self {
            since: Instant::now(),
            count: 0,
            per_second: 0.0,
        }
    }

    fn note(&mut self) {
        self.count += 1;
        let elapsed = self.since.elapsed();
        if elapsed >= Duration::from_secs(1) {
            self.per_second = self.count as f64 / elapsed.as_secs_f64();
            (self.since, self.count) = (Instant::now(), 0);
        }
    }
}

/// What a writer has done so far.
#[derive(Debug, Default)]
struct Counts {
    batches: AtomicU64,
    batched: AtomicU64,
    refused: AtomicU64,
    single: AtomicU64,
}

/// A writer's figures: atomic batches committed and the messages they held, batches refused
/// as a whole, and messages published one by one (alone, in small groups or after a refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub batches: u64,
    pub batched: u64,
    pub refused: u64,
    pub single: u64,
}

/// A message's outcome to come: its stream sequence once stored.
pub struct Stored(oneshot::Receiver<Result<u64, NatsError>>);

impl Future for Stored {
    type Output = Result<u64, NatsError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|outcome| {
            outcome.unwrap_or_else(|_| Err(NatsError::Nats("the stream's writer stopped".into())))
        })
    }
}

impl Committer {
    /// Starts the writer of the stream that `js` publishes to through the messages' subjects;
    /// `name` labels its metrics. Every message handed to one committer must belong to the
    /// same stream, and that stream must allow atomic publishes.
    pub fn start(js: jetstream::Context, name: &'static str, grouping: Grouping) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        let counts = Arc::new(Counts::default());
        let writer = Writer {
            counts: counts.clone(),
            name,
            watch: Watch::new(js.client(), grouping.silence, name),
            js,
            grouping,
        };
        tokio::spawn(writer.run(rx));
        Self { queue, counts }
    }

    /// What this writer has done so far.
    pub fn figures(&self) -> Figures {
        let read = |n: &AtomicU64| n.load(Ordering::Relaxed);
        Figures {
            batches: read(&self.counts.batches),
            batched: read(&self.counts.batched),
            refused: read(&self.counts.refused),
            single: read(&self.counts.single),
        }
    }

    /// Hands `message` to the writer and returns at once; the outcome comes in the
    /// [`Stored`].
    pub fn submit(&self, message: Outgoing) -> Stored {
        let (done, outcome) = oneshot::channel();
        // A writer that stopped drops the sender: the `Stored` says so.
        let _ = self.queue.send(Pending { message, done });
        Stored(outcome)
    }

    /// Stores `message` and returns its stream sequence.
    pub async fn store(&self, message: Outgoing) -> Result<u64, NatsError> {
        self.submit(message).await
    }
}

/// A writer's task.
struct Writer {
    js: jetstream::Context,
    counts: Arc<Counts>,
    name: &'static str,
    grouping: Grouping,
    /// Reconnects the client after a long silence (see [`crate::silence`]).
    watch: Watch,
}

/// Whether the server answered a commit at all: an ack or a refusal, against only timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heard {
    Answer,
    Nothing,
}

impl Writer {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Pending>) {
        let mut waiting = VecDeque::new();
        let mut rate = Rate::new();
        loop {
            if waiting.is_empty() {
                match rx.recv().await {
                    Some(pending) => {
                        rate.note();
                        waiting.push_back(pending);
                    }
                    None => return,
                }
            }
            while waiting.len() < batch::MAX {
                match rx.try_recv() {
                    Ok(pending) => {
                        rate.note();
                        waiting.push_back(pending);
                    }
                    Err(_) => break,
                }
            }
            if let Some(wait) = self.grouping.wait_for(waiting.len(), rate.per_second) {
                let deadline = tokio::time::sleep(wait);
                tokio::pin!(deadline);
                while waiting.len() < self.grouping.from {
                    tokio::select! {
                        received = rx.recv() => match received {
                            Some(pending) => {
                                rate.note();
                                waiting.push_back(pending);
                            }
                            None => break,
                        },
                        () = &mut deadline => break,
                    }
                }
            }
            let next = take_batch(&mut waiting);
            let heard = self.commit(next).await;
            self.watch.note(heard == Heard::Answer).await;
        }
    }

    async fn commit(&self, pending: Vec<Pending>) -> Heard {
        let (counts, name) = (&self.counts, self.name);
        if self.grouping.from > 0 && pending.len() >= self.grouping.from.max(2) {
            let messages = pending.iter().map(|p| p.message.clone()).collect();
            match batch::atomic(&self.js, messages).await {
                Ok(sequences) => {
                    counts.batches.fetch_add(1, Ordering::Relaxed);
                    counts
                        .batched
                        .fetch_add(sequences.len() as u64, Ordering::Relaxed);
                    metrics::counter!(WRITES, "writer" => name, "how" => "batched")
                        .increment(sequences.len() as u64);
                    metrics::histogram!(BATCH_SIZE, "writer" => name)
                        .record(sequences.len() as f64);
                    for (pending, sequence) in pending.into_iter().zip(sequences) {
                        let _ = pending.done.send(Ok(sequence));
                    }
                    return Heard::Answer;
                }
                // No answer (the stream has no leader, or the ack was lost): the messages one
                // by one would most likely wait as long again, for nothing, and hold up the
                // messages queued behind them. Each caller is told; the batch may be stored.
                Err(NatsError::TimedOut) => {
                    for pending in pending {
                        let _ = pending.done.send(Err(NatsError::TimedOut));
                    }
                    return Heard::Nothing;
                }
                Err(_) => {}
            }
            // Refused as a whole: each message now gets its own answer.
            counts.refused.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(REFUSED, "writer" => name).increment(1);
        }
        metrics::counter!(WRITES, "writer" => name, "how" => "single")
            .increment(pending.len() as u64);
        counts
            .single
            .fetch_add(pending.len() as u64, Ordering::Relaxed);
        one_by_one(&self.js, pending).await
    }
}

/// Takes the next batch from the front of `waiting`: up to [`batch::MAX`] messages, in order,
/// leaving behind each compare-and-set whose subject an earlier message of the batch writes
/// (the server refuses those inside a batch) and everything after it on that subject.
fn take_batch(waiting: &mut VecDeque<Pending>) -> Vec<Pending> {
    let mut taken = Vec::with_capacity(waiting.len().min(batch::MAX));
    let mut written = HashSet::new();
    let mut held_back = HashSet::new();
    let mut left = VecDeque::new();
    while let Some(pending) = waiting.pop_front() {
        let subject = pending.message.subject.as_str();
        let expects = pending
            .message
            .headers
            .get(headers::EXPECTED_LAST_SUBJECT_SEQUENCE)
            .is_some();
        if taken.len() == batch::MAX
            || held_back.contains(subject)
            || (expects && written.contains(subject))
        {
            held_back.insert(subject.to_owned());
            left.push_back(pending);
            continue;
        }
        written.insert(subject.to_owned());
        taken.push(pending);
    }
    *waiting = left;
    taken
}

/// Publishes each message with every ack outstanding, and answers each with its own outcome.
async fn one_by_one(js: &jetstream::Context, pending: Vec<Pending>) -> Heard {
    let (messages, done): (Vec<_>, Vec<_>) = pending
        .into_iter()
        .map(|Pending { message, done }| (message, done))
        .unzip();
    let mut heard = Heard::Nothing;
    for (outcome, done) in batch::each(js, messages).await.into_iter().zip(done) {
        if !matches!(outcome, Err(NatsError::TimedOut)) {
            heard = Heard::Answer;
        }
        let _ = done.send(outcome);
    }
    heard
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(subject: &str, expects: bool) -> Pending {
        let mut headers = async_nats::HeaderMap::new();
        if expects {
            headers.insert(headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "1");
        }
        Pending {
            message: Outgoing {
                subject: subject.to_owned(),
                headers,
                body: bytes::Bytes::new(),
            },
            done: oneshot::channel().0,
        }
    }

    fn subjects(pending: &[Pending]) -> Vec<&str> {
        pending.iter().map(|p| p.message.subject.as_str()).collect()
    }

    #[test]
    fn a_second_compare_and_set_of_a_subject_waits_for_the_next_batch() {
        let mut waiting: VecDeque<_> = [
            pending("a", true),
            pending("b", false),
            pending("a", true),
            pending("b", false),
            pending("a", false),
            pending("c", true),
        ]
        .into();
        let first = take_batch(&mut waiting);
        assert_eq!(subjects(&first), ["a", "b", "b", "c"]);
        let rest: Vec<_> = waiting.into_iter().collect();
        // What follows a held-back message on its subject stays behind it, in order.
        assert_eq!(subjects(&rest), ["a", "a"]);
        assert!(
            rest[0]
                .message
                .headers
                .get(headers::EXPECTED_LAST_SUBJECT_SEQUENCE)
                .is_some()
        );
        assert!(
            rest[1]
                .message
                .headers
                .get(headers::EXPECTED_LAST_SUBJECT_SEQUENCE)
                .is_none()
        );
    }

    #[test]
    fn a_writer_waits_for_a_batch_only_when_the_rate_brings_it_in_time() {
        let grouping = Grouping::default();
        // 200 a second: the 7 others of a batch of 8 come in 35 ms, 44 with the margin.
        let wait = grouping.wait_for(1, 200.0).unwrap();
        assert!(
            wait > Duration::from_millis(40) && wait <= LINGER,
            "{wait:?}"
        );
        assert_eq!(
            grouping.wait_for(1, 50.0),
            None,
            "too slow to fill a batch in time"
        );
        assert_eq!(grouping.wait_for(1, 0.0), None, "nothing seen yet");
        assert_eq!(
            grouping.wait_for(8, 200.0),
            None,
            "a batch is there already"
        );
        assert_eq!(grouping.without_linger().wait_for(1, 200.0), None);
        let never = Grouping {
            from: 0,
            ..Grouping::default()
        };
        assert_eq!(never.wait_for(1, 10_000.0), None);
    }

    #[test]
    fn a_batch_holds_at_most_what_the_server_takes() {
        let mut waiting: VecDeque<_> = (0..batch::MAX + 5)
            .map(|i| pending(&format!("s{i}"), false))
            .collect();
        assert_eq!(take_batch(&mut waiting).len(), batch::MAX);
        assert_eq!(waiting.len(), 5);
        assert_eq!(waiting[0].message.subject, format!("s{}", batch::MAX));
    }
}
