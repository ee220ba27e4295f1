//! `/jobs`: list and create (a batch); `/jobs/{id}`: read, change, delete; `/jobs/{id}/procs`
//! and `/jobs/{id}/log`.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use ontime_core::command::CommandBody;
use ontime_core::timer::TimerView;
use ontime_gateway::{AppState, Outcome};
use serde::Serialize;
use serde_json::json;

use super::error::{Code, Problem, Resource};
use super::model::{self, Job, JobRef, Listed, LogEntry};
use super::{Answer, CronNg, answer, body, fields, path_id, stop, submit};

/// How many procs' logs are read at once.
const LOG_READS: usize = 8;
/// How many jobs of a batch are submitted at once.
const SUBMITS: usize = 16;

#[derive(Serialize)]
struct Jobs {
    jobs: Vec<Job>,
}

#[derive(Serialize)]
struct One {
    job: Job,
}

pub async fn list(State(state): State<AppState>, Extension(api): Extension<Arc<CronNg>>) -> Answer {
    let jobs = api.jobs(&state).await?;
    let jobs = jobs.iter().filter_map(model::job).collect();
    answer(StatusCode::OK, &Jobs { jobs })
}

/// `POST /jobs`: every item is checked (and its name found free) before any job is made;
/// a 422 names the first refused item's field.
pub async fn create(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    raw: Body,
) -> Answer {
    let raw = body(raw, state.config.max_batch_body_bytes).await?;
    let items = fields::jobs(&raw)?;
    if items.is_empty() {
        return Err(Problem::invalid(Resource::Job, "jobs", Code::MissingField));
    }
    if items.len() > state.config.max_batch_items {
        return Err(Problem::invalid(Resource::Job, "jobs", Code::Invalid));
    }
    let existing = api.jobs(&state).await?;
    let mut taken: HashSet<String> = existing
        .iter()
        .filter_map(|view| view.metadata.get(model::NAME_KEY).cloned())
        .collect();
    let mut specs = Vec::with_capacity(items.len());
    for item in &items {
        let job = fields::new_job(item)?;
        if !taken.insert(job.name.clone()) {
            return Err(Problem::invalid(Resource::Job, "name", Code::AlreadyExists));
        }
        let mut spec = model::job_spec(&job.name, &job.definition);
        spec.validate_with(&state.config.limits)
            .map_err(|e| Problem::refused(Resource::Job, &e))?;
        specs.push(spec);
    }
    // The first alone: a refusal that holds for any job (commands not enabled in the
    // namespace) comes before any job is made.
    let mut rest = specs.into_iter();
    let mut made = Vec::with_capacity(items.len());
    if let Some(first) = rest.next() {
        made.push(create_one(&state, &api, first).await?);
    }
    let others: Vec<Job> = futures::stream::iter(rest)
        .map(|spec| create_one(&state, &api, spec))
        .buffered(SUBMITS)
        .try_collect()
        .await?;
    made.extend(others);
    answer(StatusCode::CREATED, &Jobs { jobs: made })
}

/// Creates one job, paused, under a fresh id.
async fn create_one(
    state: &AppState,
    api: &CronNg,
    spec: ontime_core::timer::TimerSpec,
) -> Result<Job, Problem> {
    let (id, key) = super::new_key(&api.namespace);
    let command = CommandBody::Upsert {
        spec: spec.clone(),
        paused: true,
    };
    let outcome = submit(state, &key, command, Resource::Job).await?;
    Ok(applied(&outcome).unwrap_or_else(|| Job {
        // Durable, not applied yet: as it will be.
        id,
        name: spec
            .metadata
            .get(model::NAME_KEY)
            .cloned()
            .unwrap_or_default(),
        definition: spec.target.command.map(|c| c.run).unwrap_or_default(),
        created_at: model::stamp(Utc::now()),
    }))
}

/// The job an outcome applied, if it came back.
fn applied(outcome: &Outcome) -> Option<Job> {
    match outcome {
        Outcome::Applied(view) | Outcome::Duplicate(Some(view)) => model::job(view),
        _ => None,
    }
}

pub async fn read(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let (_, view) = api.job(&state, &path_id(path)?).await?;
    let job = model::job(&view).ok_or_else(Problem::not_found)?;
    answer(StatusCode::OK, &One { job })
}

/// `PUT /jobs/{id}`: the fields given replace the job's; its procs keep the definition they
/// were started with.
pub async fn change(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    path: Result<Path<String>, PathRejection>,
    raw: Body,
) -> Answer {
    let id = path_id(path)?;
    let (key, view) = api.job(&state, &id).await?;
    let raw = body(raw, state.config.max_body_bytes).await?;
    let item = fields::object(&raw, "job")?;
    let change = fields::job_change(&item)?;
    let current = model::job(&view).ok_or_else(Problem::not_found)?;
    let name = change.name.unwrap_or_else(|| current.name.clone());
    let definition = change
        .definition
        .unwrap_or_else(|| current.definition.clone());
    let mut spec = model::job_spec(&name, &definition);
    spec.validate_with(&state.config.limits)
        .map_err(|e| Problem::refused(Resource::Job, &e))?;
    if name != current.name {
        let others = api.jobs(&state).await?;
        let taken = others
            .iter()
            .any(|other| other.id != id && other.metadata.get(model::NAME_KEY) == Some(&name));
        if taken {
            return Err(Problem::invalid(Resource::Job, "name", Code::AlreadyExists));
        }
    }
    let mut patch = serde_json::Map::new();
    if name != current.name {
        patch.insert("metadata".into(), json!({ model::NAME_KEY: name }));
    }
    if definition != current.definition {
        patch.insert("target".into(), json!({"command": {"run": definition}}));
    }
    if patch.is_empty() {
        return answer(StatusCode::OK, &One { job: current });
    }
    let command = CommandBody::Patch {
        patch: patch.into(),
    };
    let outcome = submit(&state, &key, command, Resource::Job).await?;
    let job = applied(&outcome).unwrap_or(Job {
        name,
        definition,
        ..current
    });
    answer(StatusCode::OK, &One { job })
}

/// `DELETE /jobs/{id}`: its procs are stopped (a running process is killed), then the job
/// is deleted; procs made meanwhile are stopped after it.
pub async fn delete(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(path)?;
    let (key, _) = api.job(&state, &id).await?;
    stop_procs(&state, &api, &id).await?;
    submit(&state, &key, CommandBody::Delete, Resource::Job).await?;
    stop_procs(&state, &api, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Stops every proc of job `id` that has not finished.
async fn stop_procs(state: &AppState, api: &CronNg, id: &str) -> Result<(), Problem> {
    for proc in api.procs(state, id, false).await? {
        if model::current(&proc)
            && let Some(key) = api.key(&proc.id)
        {
            stop(state, &key, Resource::Proc).await?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Procs {
    job: JobRef,
    procs: Vec<Listed>,
}

/// `GET /jobs/{id}/procs`: the current processes: every CRON proc, and the ADHOC procs whose
/// run has not ended.
pub async fn procs(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(path)?;
    let (_, view) = api.job(&state, &id).await?;
    let job = model::job(&view).ok_or_else(Problem::not_found)?;
    let procs = api
        .procs(&state, &id, false)
        .await?
        .iter()
        .filter(|view| model::current(view))
        .filter_map(model::proc)
        .map(Listed::from)
        .collect();
    answer(
        StatusCode::OK,
        &Procs {
            job: JobRef::from(&job),
            procs,
        },
    )
}

#[derive(Serialize)]
struct Log {
    job: JobRef,
    log: Vec<LogEntry>,
}

/// `GET /jobs/{id}/log`: every run of the job's procs, stopped ones included, newest first.
pub async fn log(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<CronNg>>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_id(path)?;
    let (_, view) = api.job(&state, &id).await?;
    let job = model::job(&view).ok_or_else(Problem::not_found)?;
    let procs = api.procs(&state, &id, true).await?;
    let logs: Vec<(String, Vec<(u64, ontime_core::timer::Attempt)>)> = futures::stream::iter(procs)
        .map(|proc| read_log(&state, &api, proc))
        .buffered(LOG_READS)
        .try_collect()
        .await?;
    let runs = logs.iter().flat_map(|(proc_id, entries)| {
        entries
            .iter()
            .map(move |(seq, attempt)| (proc_id.as_str(), *seq, attempt))
    });
    let log = model::log(runs);
    answer(
        StatusCode::OK,
        &Log {
            job: JobRef::from(&job),
            log,
        },
    )
}

/// A proc's execution log, oldest first, as the native executions route reads it.
async fn read_log(
    state: &AppState,
    api: &CronNg,
    proc: TimerView,
) -> Result<(String, Vec<(u64, ontime_core::timer::Attempt)>), Problem> {
    let Some(key) = api.key(&proc.id) else {
        return Ok((proc.id, Vec::new()));
    };
    let topology = &state.topology;
    let entries = topology.log.entries(&key).await?;
    Ok((proc.id, entries))
}
