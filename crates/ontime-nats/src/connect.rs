//! Connecting to NATS with the options every ontime process wants.

use std::time::Duration;

use crate::NatsError;

/// Connects to `url` (a comma-separated list of servers is accepted, for a cluster). Retries
/// the first connection too, so processes may start before the server.
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client, NatsError> {
    let servers: Vec<async_nats::ServerAddr> = url
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(NatsError::nats)?;
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .request_timeout(Some(Duration::from_secs(5)))
        // Publishing is asynchronous on the hot path; a deep buffer absorbs bursts.
        .client_capacity(65_536)
        .subscription_capacity(65_536)
        .connect(servers)
        .await
        .map_err(NatsError::nats)
}
