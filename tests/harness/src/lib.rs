//! The end-to-end test harness: each test gets its own nats-server (free port, temporary
//! store), an HTTP sink that records every call, and ontime's parts running in-process with
//! handles to kill any of them, or the `ontime` binary as a child process.

mod nats;
mod ontime;
mod sink;

pub use nats::{NatsServer, nats_server_bin};
pub use ontime::{
    Ontime, Part, command_worker_config, gateway_config, test_key, topology, unique_prefix,
    worker_config,
};
pub use sink::{Call, Sink};

use std::time::Duration;

/// Polls `check` until it returns `Some`, or fails after `within`. Tests wait on conditions,
/// never on fixed sleeps; the short poll interval keeps them quick.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `doc` with the field at the dotted `path` (`target.http.url`) set to `value`, as JSON text:
/// a valid document with one field made wrong, for the bad-input tests.
pub fn with_field(doc: &serde_json::Value, path: &str, value: serde_json::Value) -> String {
    let mut doc = doc.clone();
    let mut cursor = &mut doc;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cursor = &mut cursor[*p];
    }
    cursor[parts[parts.len() - 1]] = value;
    doc.to_string()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
