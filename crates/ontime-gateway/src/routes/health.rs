//! `/health` (the process is up), `/ready` (it can serve: NATS connected, topology present)
//! and `/metrics` (this process's metrics, in Prometheus's text format).

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use ontime_core::ValidationError;

use crate::error::ApiError;
use crate::responses::{Health, Liveness};
use crate::state::AppState;

/// How long `/ready` waits for NATS before saying no.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

/// This process's metrics in Prometheus's text format: every part run in it (with `ontime
/// dev`, all of them). No label names a timer.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = 404, description = "This gateway records no metrics", body = ValidationError),
    )
)]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    match &state.config.metrics {
        Some(handle) => Ok(crate::metrics::render(handle)),
        None => Err(ApiError::not_found("this gateway records no metrics")),
    }
}

/// Liveness: always 200 while the process serves HTTP, saying whether NATS is connected.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "Up", body = Liveness)))]
pub async fn health(State(state): State<AppState>) -> Json<Liveness> {
    let nats = state.topology.commands.connected();
    Json(Liveness {
        status: "ok".into(),
        api: true,
        nats,
        postgres: nats,
        mysql: nats,
    })
}

/// Readiness: 200 when NATS is connected and the topology exists, else 503.
#[utoipa::path(
    get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "NATS is not connected or the topology is missing", body = ValidationError),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let commands = &state.topology.commands;
    if !commands.connected() {
        return Err(ApiError::unavailable(format!(
            "NATS is {}",
            commands.connection()
        )));
    }
    match tokio::time::timeout(READY_TIMEOUT, state.topology.is_ready()).await {
        Ok(true) => Ok(Json(Health {
            status: "ok".into(),
        })),
        Ok(false) => Err(ApiError::unavailable(
            "the NATS topology (streams, bucket) is missing",
        )),
        Err(_) => Err(ApiError::unavailable("NATS did not answer in time")),
    }
}
