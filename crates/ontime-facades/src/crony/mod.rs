//! Crony's API (`/events`), as its document describes it, with its code's wire variants
//! accepted too: `PUT` beside `PATCH`, `retries` beside `max_retries`, a `retry_timeout` in
//! nanoseconds. `/health` is the gateway's, which carries Crony's `api` and `postgres`.
//!
//! - `GET /events`: every event (`?status=`, `?expression=` keep those that match), by id;
//! - `POST /events`: 201 with the event, its `id` included;
//! - `GET|PATCH|PUT|DELETE /events/{id}`: the event; a merge; a whole replacement; 200
//!   `event_deleted`, after which the event is gone (404).
//!
//! Errors are the document's: 400 `invalid_json`, 422 `invalid_event` with the reason (a
//! duplicate url and expression among the events not deleted is `Event already exists`),
//! 404 `event_not_found`. See [`event`] for the mapping to native timers.

mod event;
mod expression;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, Utc};
use ontime_core::Limits;
use ontime_core::timer::TimerSpec;
use ontime_gateway::AppState;

use crate::cron_service::{Change, Jobs, Service, Stored, Words, routes};
pub use event::{Definition, Event, EventIn};

/// Crony's jobs: events.
pub struct Crony(pub Service);

/// The API's routes over `service`.
pub fn router(service: Service) -> Router<AppState> {
    routes("/events", Arc::new(Crony(service)))
}

impl Jobs for Crony {
    type In = EventIn;
    type Def = Definition;
    type Out = Event;

    const SOFT_DELETE: bool = false;

    fn service(&self) -> &Service {
        &self.0
    }

    fn words(&self) -> Words {
        Words {
            invalid: "invalid_event",
            not_found: ("event_not_found", "The event was not found"),
            deleted: ("event_deleted", "The event was successfully deleted"),
            exists: "Event already exists",
        }
    }

    fn definition(
        &self,
        input: &EventIn,
        current: Option<&Definition>,
        change: Change,
        _now: DateTime<Utc>,
    ) -> Result<Definition, String> {
        event::definition(input, current, change)
    }

    fn spec(&self, _id: u64, job: &Definition, limits: &Limits) -> Result<TimerSpec, String> {
        event::spec(&self.0, job, limits)
    }

    fn stored(&self, _id: u64, timer: &Stored<'_>) -> Option<Definition> {
        event::stored(timer)
    }

    fn active(&self, job: &Definition) -> bool {
        job.active
    }

    fn same_job(&self, a: &Definition, b: &Definition) -> bool {
        a.url == b.url && a.expression.trim() == b.expression.trim()
    }

    fn show(&self, id: u64, job: &Definition, timer: &Stored<'_>) -> Event {
        event::event(id, job, timer.created_at, timer.updated_at, self.0.timezone)
    }

    fn listed(
        &self,
        job: &Definition,
        _timer: &Stored<'_>,
        query: &HashMap<String, String>,
        _now: DateTime<Utc>,
    ) -> bool {
        let status = if job.active { "active" } else { "inactive" };
        query.get("status").is_none_or(|s| s == status)
            && query.get("expression").is_none_or(|e| e == &job.expression)
    }
}
