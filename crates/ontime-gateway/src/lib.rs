//! ontime's REST gateway.
//!
//! The gateway never writes timer state. A change is validated, published as a
//! [`Command`](ontime_core::command::Command) on the command stream (a batch request's many
//! packed into a few [`Batch`](ontime_core::command::Batch) messages), acknowledged by
//! JetStream (which makes it durable), applied by a scheduler, and answered with the state the
//! scheduler replied with. Reads come straight from the KV bucket and the execution log.
//!
//! Every failure is answered in one JSON shape, `{"error": CODE, "message": …, "field": …}`
//! ([`ontime_core::ValidationError`]), with the status of its code.

mod auth;
mod config;
mod console;
mod error;
mod input;
pub mod metrics;
mod openapi;
mod protect;
mod responses;
mod routes;
mod state;
mod submit;
pub mod trace;
mod validate;

use tokio_util::sync::CancellationToken;

pub use auth::{Caller, challenge, first_admin_token, guarded, guarded_with};
pub use config::{Auth, GatewayConfig};
pub use error::{ApiError, GatewayError};
pub use ontime_nats::replies::ReplyRouter;
pub use openapi::ApiDoc;
pub use responses::{Accepted, BatchResponse, BatchResult, ExecutionPage, Health, TimerPage};
pub use routes::{router, router_with};
pub use state::AppState;
/// The one path every change takes, for the facades that translate their APIs into native
/// commands: build a [`Submission`], [`submit`] it, and answer from its [`Outcome`].
pub use submit::{Outcome, Submission, Submitted, command_id, submit};

/// Serves the API on `listener` until `shutdown` is cancelled, then stops accepting
/// connections and lets the requests in flight finish (each is bounded by the configured
/// ack and reply timeouts).
pub async fn serve(
    listener: tokio::net::TcpListener,
    topology: ontime_nats::Topology,
    config: GatewayConfig,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    serve_with(listener, topology, config, axum::Router::new(), shutdown).await
}

/// [`serve`], with `extra` routes (the seeds' facades, `ontime_facades::router(config)`) on the
/// same listener.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    topology: ontime_nats::Topology,
    config: GatewayConfig,
    extra: axum::Router<AppState>,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let state = AppState::new(topology, config).await?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "gateway listening");
    }
    axum::serve(listener, router_with(state, extra))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(GatewayError::Io)
}
