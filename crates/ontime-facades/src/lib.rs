//! The seeds' APIs, served over ontime's native model: one module per system whose clients
//! ontime takes over unchanged.
//!
//! A facade owns no state and never writes any. Each request is translated into a native
//! [`Command`](ontime_core::command::Command) and goes through the gateway's own submit path
//! ([`ontime_gateway::submit`]), exactly as a native request would; reads come from the same
//! store the native API reads. So every timer a facade makes is a native timer, visible and
//! manageable through `/v1`, and every native guarantee holds for it.
//!
//! The gateway mounts [`router`] on its own listener (`ontime_gateway::serve_with`).
//!
//! - [`durable_timer`]: the Durable Timer API (`POST /api/v1/timers/{create,get,update,delete}`).

pub mod durable_timer;

use axum::Router;
use ontime_gateway::AppState;

/// Every facade's routes, to merge into the gateway's router.
pub fn router() -> Router<AppState> {
    Router::new().merge(durable_timer::router())
}
