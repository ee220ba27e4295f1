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
//! - [`crony`]: Crony's `/events`.
//! - [`cronhubot`]: CronHubot's `/cronjobs`.
//! - [`ontarget`]: ontime-ontarget's `/schedule/...` (topics, subscribers, events) and its
//!   home document at `/`.
//! - [`cronng`]: CronNG's `/jobs` and `/procs`, command lines run by command workers.

pub mod cronhubot;
pub mod cronng;
pub mod crony;
pub mod durable_timer;
pub mod ontarget;

mod cron_service;
mod native;
#[cfg(test)]
mod proptests;

use axum::Router;
use chrono_tz::Tz;
use ontime_core::id::Namespace;
use ontime_gateway::AppState;

pub use cron_service::Service;

/// Where the facades keep their timers, and the wall clock they read times on.
#[derive(Debug, Clone)]
pub struct FacadeConfig {
    /// The namespace of Crony's events (default `crony`).
    pub crony_namespace: Namespace,
    /// The namespace of CronHubot's cron jobs (default `cronhubot`).
    pub cronhubot_namespace: Namespace,
    /// The namespace of ontime-ontarget's topics, subscribers and events (default
    /// `ontarget`).
    pub ontarget_namespace: Namespace,
    /// The namespace of CronNG's jobs and procs (default `cronng`); the operator must
    /// enable it for commands.
    pub cronng_namespace: Namespace,
    /// The time zone of Crony's and CronHubot's cron expressions and of the times they show
    /// and take, and of ontime-ontarget's times written without an offset (default UTC); the
    /// originals used their server's local time.
    pub timezone: Tz,
}

impl Default for FacadeConfig {
    fn default() -> Self {
        Self {
            crony_namespace: Namespace::parse("crony").unwrap_or_else(|_| unreachable!()),
            cronhubot_namespace: Namespace::parse("cronhubot").unwrap_or_else(|_| unreachable!()),
            ontarget_namespace: Namespace::parse("ontarget").unwrap_or_else(|_| unreachable!()),
            cronng_namespace: Namespace::parse("cronng").unwrap_or_else(|_| unreachable!()),
            timezone: Tz::UTC,
        }
    }
}

/// Every facade's routes, to merge into the gateway's router.
pub fn router(config: FacadeConfig) -> Router<AppState> {
    let crony = Service {
        name: "crony",
        namespace: config.crony_namespace,
        timezone: config.timezone,
        first_id: 1,
    };
    let cronhubot = Service {
        name: "cronhubot",
        namespace: config.cronhubot_namespace,
        timezone: config.timezone,
        // The original's table starts its ids at 1000.
        first_id: 1000,
    };
    Router::new()
        .merge(durable_timer::router())
        .merge(crony::router(crony))
        .merge(cronhubot::router(cronhubot))
        .merge(ontarget::router(ontarget::Ontarget {
            namespace: config.ontarget_namespace,
            timezone: config.timezone,
        }))
        .merge(cronng::router(cronng::CronNg {
            namespace: config.cronng_namespace,
        }))
}
