//! `POST /procs`: start a proc of a job; `GET|DELETE /procs/{id}`: read it, stop it.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use ontime_core::command::CommandBody;
use ontime_gateway::{AppState, Outcome};
use serde::Serialize;

use super::error::{Code, Problem, Resource};
use super::fields::{self, Trigger};
use super::model::{self, Created, Proc};
use super::{Answer, CronNg, answer, body, path_id, stop, submit};

#[derive(Serialize)]
struct One<T> {
    #[serde(rename = "proc")]
    process: T,
}

/// `POST /procs`: a proc of an existing job, running the job's command as it is now.
pub async fn create(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    raw: Body,
) -> Answer {
    let raw = body(raw, state.config.max_body_bytes).await?;
    let item = fields::object(&raw, "proc")?;
    let new = fields::new_proc(&item, &state.config.limits)?;
    let no_job = || Problem::invalid(Resource::Proc, "job_id", Code::Missing);
    let job_id = uuid::Uuid::try_parse(&new.job_id)
        .map_err(|_| no_job())?
        .hyphenated()
        .to_string();
    let (_, job) = api
        .live(&state, &job_id, model::JOB)
        .await?
        .ok_or_else(no_job)?;
    let command = job.target.command.as_ref().ok_or_else(no_job)?;
    let now = Utc::now();
    let mut spec = model::proc_spec(&job_id, command, &new.trigger, now);
    spec.validate_with(&state.config.limits)
        .map_err(|e| Problem::refused(Resource::Proc, &e))?;
    let (id, key) = super::new_key(&api.namespace);
    let outcome = submit(
        &state,
        &key,
        CommandBody::upsert(spec.clone()),
        Resource::Proc,
    )
    .await?;
    // The job may have been deleted while this proc was being made, its procs stopped
    // before this one existed: then this one is stopped too.
    if api.live(&state, &job_id, model::JOB).await?.is_none() {
        stop(&state, &key, Resource::Proc).await?;
        return Err(no_job());
    }
    let created = match &outcome {
        Outcome::Applied(view) | Outcome::Duplicate(Some(view)) => Created {
            id,
            job_id,
            created_at: model::stamp(view.created_at),
            start_at: model::start_at(view).map(model::stamp),
        },
        // Durable, not applied yet: as it will be.
        _ => Created {
            id,
            job_id,
            created_at: model::stamp(now),
            start_at: match &new.trigger {
                Trigger::Cron(_) => spec.schedule.first_due(now),
                Trigger::Adhoc => Some(now),
            }
            .map(model::stamp),
        },
    };
    answer(StatusCode::CREATED, &One { process: created })
}

pub async fn read(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let (_, view) = api.proc(&state, &path_id(path)?).await?;
    let process: Proc = model::proc(&view).ok_or_else(Problem::not_found)?;
    answer(StatusCode::OK, &One { process })
}

/// `DELETE /procs/{id}`: the proc is stopped (its process killed if it runs); it then reads
/// 404, and its runs stay in its job's log.
pub async fn delete(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let (key, _) = api.proc(&state, &path_id(path)?).await?;
    stop(&state, &key, Resource::Proc).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
