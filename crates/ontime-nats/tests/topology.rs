//! The topology against a real nats-server: created idempotently, and brought up to date
//! over an installation made by an earlier version.

use async_nats::jetstream::consumer;
use ontime_nats::{Names, Topology, TopologyConfig};
use ontime_testkit::NatsServer;

async fn ensure(client: &async_nats::Client) -> Topology {
    let config = TopologyConfig {
        names: Names::new("tp").unwrap(),
        ..TopologyConfig::default()
    };
    Topology::ensure(client.clone(), config).await.unwrap()
}

async fn filter(t: &Topology, durable: &str) -> String {
    let mut consumer: consumer::PullConsumer =
        t.consumer(&t.names().cmd_stream(), durable).await.unwrap();
    consumer.info().await.unwrap().config.filter_subject.clone()
}

#[tokio::test]
async fn single_commands_and_batches_get_consumers_of_their_own_even_over_an_older_install() {
    let server = NatsServer::start().await;
    let client = ontime_nats::connect(&server.url(), "topology-test")
        .await
        .unwrap();
    let t = ensure(&client).await;
    let names = t.names().clone();

    // What an installation made before batches looked like: one consumer of every command.
    let stream = t.js.get_stream(names.cmd_stream()).await.unwrap();
    stream
        .delete_consumer(names.batch_consumer())
        .await
        .unwrap();
    let mut legacy = t
        .consumer(&names.cmd_stream(), names.cmd_consumer())
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    legacy.filter_subject = names.cmd_all();
    stream.update_consumer(legacy).await.unwrap();
    assert_eq!(filter(&t, names.cmd_consumer()).await, "tp.cmd.>");

    // Started again, the topology narrows it and adds the batches' consumer, twice over.
    ensure(&client).await;
    let t = ensure(&client).await;
    assert_eq!(filter(&t, names.cmd_consumer()).await, "tp.cmd.*.*");
    assert_eq!(filter(&t, names.batch_consumer()).await, "tp.cmd.*");

    // A batch goes to the batches' consumer only, a single command to the other.
    let ns = ontime_core::Namespace::parse("ns").unwrap();
    let key = ontime_core::TimerKey::from_subject_suffix("ns.t1").unwrap();
    for subject in [names.cmd_batch_subject(&ns), names.cmd_subject(&key)] {
        t.js.publish(subject, "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    for (durable, subject) in [
        (names.batch_consumer(), names.cmd_batch_subject(&ns)),
        (names.cmd_consumer(), names.cmd_subject(&key)),
    ] {
        let mut consumer: consumer::PullConsumer =
            t.consumer(&names.cmd_stream(), durable).await.unwrap();
        assert_eq!(consumer.info().await.unwrap().num_pending, 1, "{durable}");
        let batch = consumer.fetch().max_messages(1).messages().await.unwrap();
        let got: Vec<_> = futures::StreamExt::collect::<Vec<_>>(batch).await;
        assert_eq!(got[0].as_ref().unwrap().subject.as_str(), subject);
    }
}
