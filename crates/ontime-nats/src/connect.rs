//! Connecting to NATS with the options every ontime process wants.

use std::time::Duration;

use crate::NatsError;

/// Connections made to NATS, the first one included: past 1, each is a reconnect.
pub const CONNECTS: &str = "ontime_nats_connects_total";

/// Connects to `url` (a comma-separated list of servers is accepted, for a cluster). Retries
/// the first connection too, so processes may start before the server.
pub async fn connect(url: &str, name: &str) -> Result<async_nats::Client, NatsError> {
    let servers: Vec<async_nats::ServerAddr> = url
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(NatsError::nats)?;
    metrics::describe_counter!(
        CONNECTS,
        "Connections made to NATS (past the first, reconnects)"
    );
    let mut options = async_nats::ConnectOptions::new();
    // The client reads no credentials from a server URL: they are taken from the first one
    // that has them (`nats://user:password@host:4222`).
    if let Some((user, password)) = url.split(',').find_map(|s| credentials(s.trim())) {
        options = options.user_and_password(user, password);
    }
    options
        .event_callback(|event| async move { on_event(event) })
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

/// Counts connections, and logs what the connection went through: the order of these
/// lines against a server's own log is what tells, after a failure, which process lost
/// its connection when, and whether the client dropped messages.
fn on_event(event: async_nats::Event) {
    use async_nats::Event;
    match event {
        Event::Connected => {
            metrics::counter!(CONNECTS).increment(1);
            tracing::info!("connected to NATS");
        }
        Event::SlowConsumer(sid) => tracing::warn!(
            subscription = sid,
            "a subscription's buffer was full: the client dropped messages for it"
        ),
        Event::Disconnected | Event::ServerError(_) | Event::ClientError(_) => {
            tracing::warn!(%event, "NATS connection")
        }
        Event::LameDuckMode | Event::Draining | Event::Closed => {
            tracing::info!(%event, "NATS connection")
        }
    }
}

/// The user and password of `nats://user:password@host:port`, percent-decoded.
fn credentials(server: &str) -> Option<(String, String)> {
    let url = url::Url::parse(server).ok()?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let password = url.password()?;
    (!url.username().is_empty()).then(|| (decode(url.username()), decode(password)))
}

#[cfg(test)]
mod tests {
    use super::credentials;

    #[test]
    fn credentials_come_from_the_url() {
        assert_eq!(
            credentials("nats://ontime:p%40ss%2Fw@127.0.0.1:4222"),
            Some(("ontime".into(), "p@ss/w".into()))
        );
        assert_eq!(credentials("nats://127.0.0.1:4222"), None);
        assert_eq!(credentials("nats://user@127.0.0.1:4222"), None);
    }
}
