//! CronNG's API: jobs (command lines) and their procs (processes started on a crontab or at
//! once), with the log of their runs. Every object is a native timer with a command target,
//! in the facade's namespace, visible and manageable through `/v1` (see [`model`]).
//!
//! - `GET|POST /jobs`: every job; create jobs in a batch (`{"jobs": [...]}`, all or none);
//! - `GET|PUT|DELETE /jobs/{id}`: a job; change its `name` or `definition`; delete it and
//!   stop its procs;
//! - `GET /jobs/{id}/procs`: its current processes; `GET /jobs/{id}/log`: its runs;
//! - `POST /procs`: start a proc (CRON or ADHOC); `GET|DELETE /procs/{id}`: a proc; stop it.
//!
//! Answers are JSON (`application/json`), errors GitHub's ([`error`]). Reads need a token's
//! `read` role in the namespace, anything else its `command` role; the namespace must be
//! one the operator enabled for commands, and command workers must run its commands.

mod error;
mod fields;
mod jobs;
mod model;
mod procs;

use std::sync::Arc;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::routing::{any, get, post};
use axum::{Extension, Json, Router};
use ontime_core::command::CommandBody;
use ontime_core::id::{Namespace, TimerId};
use ontime_core::timer::{TimerStatus, TimerView};
use ontime_core::trust::access::Role;
use ontime_core::{ErrorCode, TimerKey};
use ontime_gateway::{AppState, Outcome};
use serde::Serialize;

use crate::native;
use error::Problem;
use error::Resource;

/// Where the API keeps its jobs and procs.
#[derive(Debug, Clone)]
pub struct CronNg {
    pub namespace: Namespace,
}

/// What a route answers.
type Answer = Result<axum::response::Response, Problem>;

/// The API's routes over `api`.
pub fn router(api: CronNg) -> Router<AppState> {
    let namespace = api.namespace.clone();
    let allow = |methods: &'static str| move || async move { Problem::not_allowed(methods) };
    let routes = Router::new()
        .route(
            "/jobs",
            get(jobs::list)
                .post(jobs::create)
                .fallback(allow("GET, POST")),
        )
        .route(
            "/jobs/{id}",
            get(jobs::read)
                .put(jobs::change)
                .delete(jobs::delete)
                .fallback(allow("GET, PUT, DELETE")),
        )
        .route("/jobs/{id}/procs", get(jobs::procs).fallback(allow("GET")))
        .route("/jobs/{id}/log", get(jobs::log).fallback(allow("GET")))
        .route("/procs", post(procs::create).fallback(allow("POST")))
        .route(
            "/procs/{id}",
            get(procs::read)
                .delete(procs::delete)
                .fallback(allow("GET, DELETE")),
        )
        // Any other path under the collections names nothing.
        .route("/jobs/", any(not_found))
        .route("/procs/", any(not_found))
        .route("/jobs/{id}/{*rest}", any(not_found))
        .route("/procs/{id}/{*rest}", any(not_found))
        .layer(Extension(Arc::new(api)));
    ontime_gateway::guarded_with::<Problem>(routes, Some(namespace), Role::Command)
}

async fn not_found() -> Problem {
    Problem::not_found()
}

/// `value` as a JSON answer.
fn answer<T: Serialize>(status: axum::http::StatusCode, value: &T) -> Answer {
    use axum::response::IntoResponse as _;
    Ok((status, Json(value)).into_response())
}

/// A request's body, up to `limit` bytes (413 past it).
async fn body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    to_bytes(body, limit)
        .await
        .map_err(|_| Problem::too_large())
}

/// The id a path names: a UUID (any other text names nothing: 404).
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, Problem> {
    let Ok(Path(raw)) = path else {
        return Err(Problem::not_found());
    };
    uuid::Uuid::try_parse(&raw)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| Problem::not_found())
}

/// A fresh id (a UUID v4) and its timer's key.
fn new_key(namespace: &Namespace) -> (String, TimerKey) {
    let id = uuid::Uuid::new_v4().to_string();
    // A UUID is always a valid timer id.
    let timer = TimerId::parse(&id).unwrap_or_else(|_| unreachable!());
    (id, TimerKey::new(namespace.clone(), timer))
}

impl CronNg {
    fn key(&self, id: &str) -> Option<TimerKey> {
        let timer = TimerId::parse(id).ok()?;
        Some(TimerKey::new(self.namespace.clone(), timer))
    }

    /// The timer `id` names if it is one of the API's objects of `kind`, not deleted.
    async fn live(
        &self,
        state: &AppState,
        id: &str,
        kind: &str,
    ) -> Result<Option<(TimerKey, TimerView)>, Problem> {
        let Some(key) = self.key(id) else {
            return Ok(None);
        };
        Ok(native::read(state, &key)
            .await?
            .filter(|(record, _)| record.status != TimerStatus::Cancelled)
            .map(|(record, revision)| record.view(revision))
            .filter(|view| model::is(view, kind))
            .map(|view| (key, view)))
    }

    /// Job `id` (404 unless it is one).
    async fn job(&self, state: &AppState, id: &str) -> Result<(TimerKey, TimerView), Problem> {
        self.live(state, id, model::JOB)
            .await?
            .ok_or_else(Problem::not_found)
    }

    /// Proc `id` (404 unless it is one).
    async fn proc(&self, state: &AppState, id: &str) -> Result<(TimerKey, TimerView), Problem> {
        self.live(state, id, model::PROC)
            .await?
            .ok_or_else(Problem::not_found)
    }

    /// Every job not deleted, oldest first.
    async fn jobs(&self, state: &AppState) -> Result<Vec<TimerView>, Problem> {
        self.list(state, &model::filter(model::JOB, None, None))
            .await
    }

    /// The procs of job `job` not stopped, oldest first; with `stopped`, the stopped ones
    /// too (their runs stay in the job's log).
    async fn procs(
        &self,
        state: &AppState,
        job: &str,
        stopped: bool,
    ) -> Result<Vec<TimerView>, Problem> {
        let mut found = self
            .list(state, &model::filter(model::PROC, Some(job), None))
            .await?;
        if stopped {
            let filter = model::filter(model::PROC, Some(job), Some(TimerStatus::Cancelled));
            found.extend(self.list(state, &filter).await?);
            sort(&mut found);
        }
        Ok(found)
    }

    async fn list(
        &self,
        state: &AppState,
        filter: &ontime_core::metadata::TimerFilter,
    ) -> Result<Vec<TimerView>, Problem> {
        let mut found: Vec<TimerView> = native::all(state, &self.namespace, filter)
            .await?
            .into_iter()
            .map(|(record, revision)| record.view(revision))
            .collect();
        sort(&mut found);
        Ok(found)
    }
}

/// Oldest first; by id among those created in the same instant.
fn sort(views: &mut [TimerView]) {
    views.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
}

/// Submits `body` for timer `key` of `resource`: a native refusal of the definition is the
/// API's 422 (the namespace not enabled for commands among them), whether the gateway or
/// the scheduler refused it.
async fn submit(
    state: &AppState,
    key: &TimerKey,
    body: CommandBody,
    resource: Resource,
) -> Result<Outcome, Problem> {
    match native::submit(state, key, body, None).await {
        Ok(Outcome::Refused(e)) => Err(Problem::refused(resource, &e)),
        Ok(outcome) => Ok(outcome),
        Err(e) if matches!(e.code(), ErrorCode::InvalidField | ErrorCode::InvalidJson) => {
            Err(Problem::refused(resource, &e.0))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes timer `key` (a proc's process, if running, is killed); one already gone is fine.
async fn stop(state: &AppState, key: &TimerKey, resource: Resource) -> Result<(), Problem> {
    match submit(state, key, CommandBody::Delete, resource).await {
        Ok(_) => Ok(()),
        Err(e) if e == Problem::not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
