//! Durable counters against a real nats-server: concurrent callers on several connections
//! get distinct values without gaps, and a restarted server remembers where a counter was.

use std::collections::BTreeSet;

use ontime_testkit::{NatsServer, topology};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_get_every_value_once_and_a_restart_keeps_the_count() {
    let mut server = NatsServer::start().await;
    const CONNECTIONS: usize = 4;
    const CALLERS_PER_CONNECTION: usize = 6;
    const CALLS_PER_CALLER: usize = 20;
    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        connections.push(topology(&server, "ct").await);
    }
    assert_eq!(connections[0].counters.current("crony").await.unwrap(), 0);

    let mut callers = Vec::new();
    for t in &connections {
        for _ in 0..CALLERS_PER_CONNECTION {
            let counters = t.counters.clone();
            callers.push(tokio::spawn(async move {
                let mut got = Vec::with_capacity(CALLS_PER_CALLER);
                for _ in 0..CALLS_PER_CALLER {
                    got.push(counters.next("crony").await.unwrap());
                }
                got
            }));
        }
    }
    let mut values = Vec::new();
    for caller in callers {
        let got = caller.await.unwrap();
        // One caller's values rise: each is taken after the one before.
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        values.extend(got);
    }
    let n = (CONNECTIONS * CALLERS_PER_CONNECTION * CALLS_PER_CALLER) as u64;
    let distinct: BTreeSet<u64> = values.iter().copied().collect();
    assert_eq!(distinct.len(), values.len(), "a value was given twice");
    assert_eq!(distinct, (1..=n).collect(), "values are 1..={n}, no gap");
    assert_eq!(connections[2].counters.current("crony").await.unwrap(), n);

    // Counters are independent, and any name is a key.
    let other = &connections[1].counters;
    assert_eq!(other.next("durable timer/ids").await.unwrap(), 1);
    assert_eq!(other.next("durable timer/ids").await.unwrap(), 2);
    assert!(other.next("").await.is_err());

    // Another installation on the same server has counters of its own.
    let elsewhere = topology(&server, "ct2").await;
    assert_eq!(elsewhere.counters.next("crony").await.unwrap(), 1);

    // The server is killed and started again on the same store: the count goes on.
    drop(connections);
    drop(elsewhere);
    server.restart().await;
    let t = topology(&server, "ct").await;
    assert_eq!(t.counters.current("crony").await.unwrap(), n);
    assert_eq!(t.counters.next("crony").await.unwrap(), n + 1);
    assert_eq!(t.counters.next("durable timer/ids").await.unwrap(), 3);
}
