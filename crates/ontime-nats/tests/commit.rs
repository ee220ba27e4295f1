//! Group commit against a real nats-server: what is handed to a writer while it is busy is
//! stored in one atomic batch, each message keeps its own outcome, and a batch the server
//! refuses as a whole is stored again one message at a time.

use std::time::Duration;

use futures::StreamExt;
use ontime_nats::batch::Outgoing;
use ontime_nats::commit::{Committer, Figures, Grouping};
use ontime_nats::{NatsError, headers};
use ontime_testkit::{NatsServer, topology};

fn message(subject: String, header: Option<(&str, &str)>) -> Outgoing {
    let mut hdrs = async_nats::HeaderMap::new();
    if let Some((name, value)) = header {
        hdrs.insert(name, value);
    }
    Outgoing {
        subject,
        headers: hdrs,
        body: "{}".into(),
    }
}

/// A writer of the log stream on a server of its own.
struct Writer {
    _server: NatsServer,
    t: ontime_nats::Topology,
    writer: Committer,
}

impl Writer {
    async fn start(grouping: Grouping) -> Self {
        let server = NatsServer::start().await;
        let t = topology(&server, "gc").await;
        let writer = Committer::start(t.js.clone(), "test", grouping);
        Self {
            _server: server,
            t,
            writer,
        }
    }

    /// A log subject of timer `t<i>`.
    fn log(&self, i: usize) -> String {
        format!("{}.log.ns.t{i}", self.t.names().prefix())
    }
}

// On the test's single thread, the writer runs only once the test awaits: everything handed
// to it before that is waiting when it starts.
#[tokio::test]
async fn what_arrives_together_is_stored_as_one_batch() {
    let w = Writer::start(Grouping::default()).await;
    let (writer, log) = (&w.writer, |i| w.log(i));
    let stored: Vec<_> = (0..500)
        .map(|i| writer.submit(message(log(i), None)))
        .collect();
    let mut sequences = Vec::new();
    for stored in stored {
        sequences.push(stored.await.unwrap());
    }
    // One batch: consecutive sequences, in the order handed over.
    assert!(
        sequences.windows(2).all(|w| w[1] == w[0] + 1),
        "{sequences:?}"
    );
    assert_eq!(
        writer.figures(),
        Figures {
            batches: 1,
            batched: 500,
            refused: 0,
            single: 0
        }
    );

    // Alone, a message goes out at once as a plain publish.
    writer.store(message(log(0), None)).await.unwrap();
    assert_eq!(writer.figures().single, 1);
}

#[tokio::test]
async fn a_refused_batch_is_stored_one_by_one_and_only_the_message_at_fault_fails() {
    let w = Writer::start(Grouping::default()).await;
    let (t, writer, log) = (&w.t, &w.writer, |i| w.log(i));
    let taken = writer.store(message(log(3), None)).await.unwrap();

    // A compare-and-set that cannot hold (t3 is not new) among nineteen that can.
    let stored: Vec<_> = (0..20)
        .map(|i| {
            let expected = (headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "0");
            writer.submit(message(log(i), Some(expected)))
        })
        .collect();
    let mut outcomes = Vec::new();
    for stored in stored {
        outcomes.push(stored.await);
    }
    for (i, outcome) in outcomes.iter().enumerate() {
        if i == 3 {
            assert!(matches!(outcome, Err(NatsError::Conflict)), "{outcome:?}");
        } else {
            assert!(
                outcome.as_ref().is_ok_and(|seq| *seq > taken),
                "{outcome:?}"
            );
        }
    }
    let figures = writer.figures();
    assert_eq!((figures.batches, figures.refused), (0, 1), "{figures:?}");

    // A duplicate message id refuses a batch too; one by one it is answered as stored once.
    let again = (headers::MSG_ID, "same");
    let stored: Vec<_> = (100..110)
        .map(|i| {
            let id = if i % 5 == 0 { Some(again) } else { None };
            writer.submit(message(log(i), id))
        })
        .collect();
    for stored in stored {
        stored.await.unwrap();
    }
    let mut stream = t.js.get_stream(t.names().log_stream()).await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        1 + 20 - 1 + 10 - 1
    );
}

#[tokio::test]
async fn a_second_compare_and_set_of_a_key_waits_for_the_first() {
    let w = Writer::start(Grouping::default()).await;
    let (writer, log) = (&w.writer, |i| w.log(i));
    // Two creates of t0 race among others: inside one batch the second would refuse the
    // whole batch; held back for the next one, it alone loses.
    let expected = Some((headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "0"));
    let mut stored: Vec<_> = (0..10)
        .map(|i| writer.submit(message(log(i), expected)))
        .collect();
    stored.push(writer.submit(message(log(0), expected)));
    let mut outcomes = Vec::new();
    for stored in stored {
        outcomes.push(stored.await);
    }
    let last = outcomes.pop().unwrap();
    assert!(matches!(last, Err(NatsError::Conflict)), "{last:?}");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let figures = writer.figures();
    assert_eq!(
        (figures.batches, figures.batched, figures.refused),
        (1, 10, 0),
        "{figures:?}"
    );
}

#[tokio::test]
async fn a_writer_told_never_to_batch_publishes_one_by_one() {
    let w = Writer::start(Grouping {
        from: 0,
        ..Grouping::default()
    })
    .await;
    let (writer, log) = (&w.writer, |i| w.log(i));
    let stored: Vec<_> = (0..50)
        .map(|i| writer.submit(message(log(i), None)))
        .collect();
    for stored in stored {
        stored.await.unwrap();
    }
    let figures = writer.figures();
    assert_eq!((figures.batches, figures.single), (0, 50), "{figures:?}");
}

#[tokio::test]
async fn a_writer_may_batch_even_a_few_messages_atomically() {
    let w = Writer::start(Grouping {
        from: 2,
        ..Grouping::default()
    })
    .await;
    let (t, writer, log) = (&w.t, &w.writer, |i| w.log(i));
    let taken = writer.store(message(log(1), None)).await.unwrap();
    // Three compare-and-sets, one of which cannot hold: the batch of three is refused as a
    // whole, and one by one the other two are stored once each.
    let expected = Some((headers::EXPECTED_LAST_SUBJECT_SEQUENCE, "0"));
    let stored: Vec<_> = (0..3)
        .map(|i| writer.submit(message(log(i), expected)))
        .collect();
    let mut outcomes = Vec::new();
    for stored in stored {
        outcomes.push(stored.await);
    }
    assert!(outcomes[0].as_ref().is_ok_and(|seq| *seq > taken));
    assert!(
        matches!(outcomes[1], Err(NatsError::Conflict)),
        "{outcomes:?}"
    );
    assert!(outcomes[2].is_ok());
    assert_eq!(writer.figures().refused, 1);
    let mut stream = t.js.get_stream(t.names().log_stream()).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
}

// A steady 100 messages a second seldom meet on their own: a writer that may linger waits
// for the rest of a batch once it has seen the rate, and commits them together.
#[tokio::test]
async fn at_a_steady_rate_a_lingering_writer_fills_its_batches() {
    let w = Writer::start(Grouping {
        from: 8,
        linger: Duration::from_millis(200),
        ..Grouping::default()
    })
    .await;
    let (writer, log) = (&w.writer, |i| w.log(i));
    let mut stored = Vec::new();
    for i in 0..200 {
        stored.push(writer.submit(message(log(i), None)));
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for stored in stored {
        stored.await.unwrap();
    }
    let figures = writer.figures();
    assert!(figures.batches > 0, "{figures:?}");
    assert_eq!(figures.batched + figures.single, 200, "{figures:?}");
}

/// A JetStream context whose acks run out after `timeout`, on a server of its own, with a
/// plain subscriber in place of a stream on `acks.>`: it answers `acks.late` 1.5 timeouts
/// after the publish and nothing else ever.
async fn unanswered(timeout: Duration) -> (NatsServer, async_nats::jetstream::Context) {
    let server = NatsServer::start().await;
    let client = async_nats::connect(server.url()).await.unwrap();
    let mut requests = client.subscribe("acks.>").await.unwrap();
    let answerer = client.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let (Some(reply), "acks.late") = (request.reply, request.subject.as_str()) else {
                continue;
            };
            let answerer = answerer.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout * 3 / 2).await;
                let ack = r#"{"stream":"S","seq":7}"#;
                answerer.publish(reply, ack.into()).await.unwrap();
            });
        }
    });
    client.flush().await.unwrap();
    let js = async_nats::jetstream::ContextBuilder::new()
        .timeout(timeout)
        .build(client);
    (server, js)
}

/// Messages published one by one wait for their acks together: each for the ack timeout from
/// its own publish. A writer that awaited them in turn gave each the timeout from the end of
/// the previous wait, so `n` acks that never came held it (and everything queued behind it)
/// for `n` timeouts; here the second ack, which comes late, would have been taken.
#[tokio::test]
async fn the_acks_of_messages_published_one_by_one_run_out_together() {
    let (_server, js) = unanswered(Duration::from_secs(2)).await;
    let writer = Committer::start(
        js,
        "test",
        Grouping {
            from: 0,
            ..Grouping::default()
        },
    );
    let lost = writer.submit(message("acks.lost".into(), None));
    let late = writer.submit(message("acks.late".into(), None));
    assert!(matches!(lost.await, Err(NatsError::TimedOut)));
    assert!(
        matches!(late.await, Err(NatsError::TimedOut)),
        "an ack later than the timeout from its publish is not waited for"
    );
}

/// A batch whose ack does not come is not published again one message at a time, which
/// would wait as long again while the writer holds up everything queued behind it: each
/// caller is told at once that the ack did not come.
#[tokio::test]
async fn a_batch_without_an_answer_is_not_tried_again_one_by_one() {
    let (_server, js) = unanswered(Duration::from_millis(500)).await;
    let writer = Committer::start(
        js,
        "test",
        Grouping {
            from: 2,
            ..Grouping::default()
        },
    );
    let stored: Vec<_> = (0..3)
        .map(|i| writer.submit(message(format!("acks.lost.{i}"), None)))
        .collect();
    for stored in stored {
        assert!(matches!(stored.await, Err(NatsError::TimedOut)));
    }
    let figures = writer.figures();
    assert_eq!((figures.refused, figures.single), (0, 0), "{figures:?}");
}

/// A writer that hears no ack at all for its `silence`, though connected, reconnects its
/// client: a path to the streams that loses acks is not one to keep.
#[tokio::test]
async fn a_writer_that_hears_nothing_back_reconnects() {
    use std::sync::atomic::Ordering;

    let (_server, js) = unanswered(Duration::from_millis(200)).await;
    let client = js.client();
    let connects = || client.statistics().connects.load(Ordering::Relaxed);
    let before = connects();
    let writer = Committer::start(
        js,
        "test",
        Grouping {
            from: 0,
            silence: Duration::from_millis(500),
            ..Grouping::default()
        },
    );
    for _ in 0..50 {
        let stored = writer.store(message("acks.lost".into(), None)).await;
        assert!(matches!(stored, Err(NatsError::TimedOut)), "{stored:?}");
        if connects() > before {
            return;
        }
    }
    panic!("no reconnection after 50 unanswered publishes");
}
