//! The calls stream against a real nats-server: settled calls are purged in bulk, unsettled
//! ones stay, and a purged call published again is still recognised as a duplicate.

use std::time::Duration;

use futures::StreamExt;
use ontime_testkit::{NatsServer, topology};

#[tokio::test]
async fn settled_calls_are_purged_and_stay_deduplicated() {
    let server = NatsServer::start().await;
    let t = topology(&server, "fi").await;
    let names = t.names();
    let publish = |id: &'static str| {
        let js = t.js.clone();
        let subject = format!("{}.call.ns.{id}", names.prefix());
        async move {
            let mut hdrs = async_nats::HeaderMap::new();
            hdrs.insert(ontime_nats::headers::MSG_ID, id);
            js.publish_with_headers(subject, hdrs, "{}".into())
                .await
                .unwrap()
                .await
                .unwrap()
        }
    };
    for id in ["a", "b", "c"] {
        assert!(!publish(id).await.duplicate);
    }
    let consumer = t
        .consumer(&names.fire_stream(), names.fire_consumer())
        .await
        .unwrap();
    let mut messages = consumer.fetch().max_messages(3).messages().await.unwrap();
    let mut held = Vec::new();
    while let Some(message) = messages.next().await {
        held.push(message.unwrap());
    }
    assert_eq!(held.len(), 3);
    let stream_messages = || async {
        let mut stream = t.js.get_stream(names.fire_stream()).await.unwrap();
        stream.info().await.unwrap().state.messages
    };

    // The first is still being worked on: nothing below it may go, whatever came after.
    held[1].double_ack().await.unwrap();
    held[2].double_ack().await.unwrap();
    assert_eq!(t.fires.clear_settled().await.unwrap(), 0);
    assert_eq!(stream_messages().await, 3);

    // Once it is settled, all three go in one purge.
    held[0].double_ack().await.unwrap();
    assert_eq!(t.fires.clear_settled().await.unwrap(), 3);
    assert_eq!(stream_messages().await, 0);
    assert_eq!(t.fires.clear_settled().await.unwrap(), 0);

    // A scheduler publishing a call again (after a crash) is still told it is a duplicate:
    // the purge kept the de-duplication window.
    assert!(
        publish("b").await.duplicate,
        "a purged call was stored again"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(stream_messages().await, 0);
}
