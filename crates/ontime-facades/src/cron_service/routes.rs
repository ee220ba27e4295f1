//! The routes Crony and CronHubot share, over any [`Jobs`]: list and create on the
//! collection, read, change (PATCH merges, PUT replaces) and delete one job.
//!
//! Every change is one native command, so it is atomic: a job created inactive is an upsert
//! that creates it paused (it never fires before it is made active), a change of status
//! alone is a pause or a resume (the schedule keeps its place), any other change an upsert of
//! the whole definition.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ontime_core::command::CommandBody;
use ontime_core::timer::{TimerRecord, TimerSpec, TimerStatus};
use ontime_core::{ErrorCode, Limits, TimerKey};
use ontime_gateway::{AppState, Outcome};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Problem, Service, Stored, decode, go_json};
use crate::native;

/// How a request's fields combine with the job they change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// POST: every field not given takes its default; the required ones must be there.
    Create,
    /// PUT: the same as a create, on an existing job.
    Replace,
    /// PATCH: the fields given replace the job's.
    Merge,
}

/// What a service calls things, in its answers.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// The 422 label (`invalid_event`).
    pub invalid: &'static str,
    /// The 404 label and message.
    pub not_found: (&'static str, &'static str),
    /// The label and message of a deletion's 200.
    pub deleted: (&'static str, &'static str),
    /// The message of a duplicate's 422.
    pub exists: &'static str,
}

/// The 400 every one of these services gives for a body it cannot decode.
const INVALID_JSON: (&str, &str) = ("invalid_json", "Cannot decode the given JSON payload");

/// One service's jobs: how its documents translate to and from native timers.
pub trait Jobs: Send + Sync + 'static {
    /// A job as a client sends it.
    type In: DeserializeOwned + Send;
    /// A complete, checked job.
    type Def: Clone + PartialEq + Send + Sync;
    /// A job as the service answers it.
    type Out: Serialize;

    /// Whether a deleted job can still be read (and is deleted again without a 404).
    const SOFT_DELETE: bool;

    fn service(&self) -> &Service;
    fn words(&self) -> Words;
    /// The job `input` defines, from `current` for a merge; the reason it is refused (422).
    fn definition(
        &self,
        input: &Self::In,
        current: Option<&Self::Def>,
        change: Change,
        now: DateTime<Utc>,
    ) -> Result<Self::Def, String>;
    /// The native definition of job `id`; the reason it is refused (422).
    fn spec(&self, id: u64, job: &Self::Def, limits: &Limits) -> Result<TimerSpec, String>;
    /// The job a native timer is, if it is one of the service's.
    fn stored(&self, id: u64, timer: &Stored<'_>) -> Option<Self::Def>;
    /// Whether the job fires (not paused).
    fn active(&self, job: &Self::Def) -> bool;
    /// Whether two jobs are the same for the rule that refuses a duplicate.
    fn same_job(&self, a: &Self::Def, b: &Self::Def) -> bool;
    /// Job `id` as the service shows it.
    fn show(&self, id: u64, job: &Self::Def, timer: &Stored<'_>) -> Self::Out;
    /// Whether the collection's GET shows the job, given its query string.
    fn listed(
        &self,
        job: &Self::Def,
        timer: &Stored<'_>,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> bool;
}

/// The routes of `collection` (`/events`) and of one of its jobs (`/events/{id}`).
pub fn routes<J: Jobs>(collection: &str, jobs: Arc<J>) -> Router<AppState> {
    let namespace = jobs.service().namespace.clone();
    let routes = Router::new()
        .route(
            collection,
            get(list::<J>)
                .post(create::<J>)
                .fallback(|| async { not_allowed("GET, POST") }),
        )
        .route(
            &format!("{collection}/{{id}}"),
            get(read::<J>)
                .patch(merge::<J>)
                .put(replace::<J>)
                .delete(delete::<J>)
                .fallback(|| async { not_allowed("GET, PUT, PATCH, DELETE") }),
        )
        // Any other path under the collection is an unknown job, in the service's words.
        .route(&format!("{collection}/"), any(stray::<J>))
        .route(&format!("{collection}/{{id}}/{{*rest}}"), any(stray::<J>))
        .layer(Extension(jobs));
    ontime_gateway::guarded::<Problem>(routes, Some(namespace))
}

fn not_allowed(allow: &'static str) -> Response {
    let mut response =
        Problem::new(StatusCode::METHOD_NOT_ALLOWED, "", "Method Not Allowed").into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

type Answer = Result<Response, Problem>;

async fn stray<J: Jobs>(Extension(jobs): Extension<Arc<J>>) -> Problem {
    not_found(&*jobs)
}

async fn list<J: Jobs>(
    State(state): State<AppState>,
    Extension(jobs): Extension<Arc<J>>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let now = Utc::now();
    let found = jobs.service().jobs(&state, J::SOFT_DELETE).await?;
    let shown: Vec<J::Out> = found
        .iter()
        .filter_map(|(id, record, _)| {
            let timer = Stored::from(record);
            let job = jobs.stored(*id, &timer)?;
            jobs.listed(&job, &timer, &query, now)
                .then(|| jobs.show(*id, &job, &timer))
        })
        .collect();
    Ok(go_json(StatusCode::OK, &shown))
}

async fn create<J: Jobs>(
    State(state): State<AppState>,
    Extension(jobs): Extension<Arc<J>>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let input: J::In = body_of(body)?;
    let now = Utc::now();
    let invalid =
        |why: String| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, jobs.words().invalid, why);
    let job = jobs
        .definition(&input, None, Change::Create, now)
        .map_err(invalid)?;
    // Checked before an id is drawn, so that a refused job uses none.
    jobs.spec(0, &job, &state.config.limits).map_err(invalid)?;
    refuse_duplicate(&state, &*jobs, &job, None).await?;
    let id = jobs.service().next_id(&state).await?;
    let spec = jobs.spec(id, &job, &state.config.limits).map_err(invalid)?;
    let key = jobs.service().key_of(id);
    let paused = !jobs.active(&job);
    let outcome = native::submit(
        &state,
        &key,
        CommandBody::Upsert {
            spec: spec.clone(),
            paused,
        },
        None,
    )
    .await?;
    answer(&*jobs, StatusCode::CREATED, id, outcome, || {
        (job.clone(), spec.clone(), paused, now, now)
    })
}

async fn read<J: Jobs>(
    State(state): State<AppState>,
    Extension(jobs): Extension<Arc<J>>,
    Path(id): Path<String>,
) -> Answer {
    let (id, _, record) = existing(&state, &*jobs, &id, J::SOFT_DELETE).await?;
    let timer = Stored::from(&record);
    let job = jobs.stored(id, &timer).ok_or_else(|| not_found(&*jobs))?;
    Ok(go_json(StatusCode::OK, &jobs.show(id, &job, &timer)))
}

async fn merge<J: Jobs>(
    state: State<AppState>,
    jobs: Extension<Arc<J>>,
    id: Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    change(state, jobs, id, body, Change::Merge).await
}

async fn replace<J: Jobs>(
    state: State<AppState>,
    jobs: Extension<Arc<J>>,
    id: Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    change(state, jobs, id, body, Change::Replace).await
}

async fn change<J: Jobs>(
    State(state): State<AppState>,
    Extension(jobs): Extension<Arc<J>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
    change: Change,
) -> Answer {
    let (id, key, record) = existing(&state, &*jobs, &id, false).await?;
    let input: J::In = body_of(body)?;
    let timer = Stored::from(&record);
    let current = jobs.stored(id, &timer).ok_or_else(|| not_found(&*jobs))?;
    let now = Utc::now();
    let invalid =
        |why: String| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, jobs.words().invalid, why);
    let job = jobs
        .definition(&input, Some(&current), change, now)
        .map_err(invalid)?;
    let spec = jobs.spec(id, &job, &state.config.limits).map_err(invalid)?;
    let paused = !jobs.active(&job);
    let patch = (spec != record.spec).then(|| native::patch_between(&record.spec, &spec));
    let control = match (paused, record.status == TimerStatus::Paused) {
        (true, false) => Some(CommandBody::Pause),
        (false, true) => Some(CommandBody::Resume),
        _ => None,
    };
    if patch.is_some() && !jobs.same_job(&job, &current) {
        refuse_duplicate(&state, &*jobs, &job, Some(id)).await?;
    }
    let steps = if record.status.is_final() {
        // A finished job (stopped by its answer, or past its end) cannot be resumed or
        // patched back to life: made active, or changed, it is defined afresh.
        if patch.is_none() && paused {
            Vec::new()
        } else {
            vec![CommandBody::Upsert {
                spec: spec.clone(),
                paused,
            }]
        }
    } else {
        // A patch keeps the job's counters and its paused state. Pausing comes before the
        // new definition and resuming after it, so that the job never fires in a state the
        // client did not ask for.
        let mut steps: Vec<CommandBody> = patch
            .into_iter()
            .map(|patch| CommandBody::Patch { patch })
            .collect();
        match control {
            Some(pause @ CommandBody::Pause) => steps.insert(0, pause),
            Some(resume) => steps.push(resume),
            None => {}
        }
        steps
    };
    if steps.is_empty() {
        return Ok(go_json(StatusCode::OK, &jobs.show(id, &job, &timer)));
    }
    let mut outcome = Outcome::Pending;
    for step in steps {
        // Not conditional on the revision read: calls being reported move it all the time,
        // and the request says the whole job (the last change wins, as it did).
        outcome = native::submit(&state, &key, step, None).await?;
        if matches!(outcome, Outcome::Refused(_)) {
            break;
        }
    }
    let created_at = record.created_at;
    answer(&*jobs, StatusCode::OK, id, outcome, || {
        (job.clone(), spec.clone(), paused, created_at, now)
    })
}

async fn delete<J: Jobs>(
    State(state): State<AppState>,
    Extension(jobs): Extension<Arc<J>>,
    Path(id): Path<String>,
) -> Answer {
    let (_, key, record) = existing(&state, &*jobs, &id, J::SOFT_DELETE).await?;
    let words = jobs.words();
    if record.status != TimerStatus::Cancelled {
        match native::submit(&state, &key, CommandBody::Delete, None).await? {
            Outcome::Refused(e) if e.code == ErrorCode::NotFound => return Err(not_found(&*jobs)),
            Outcome::Refused(e) => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    words.invalid,
                    e.message,
                ));
            }
            Outcome::Applied(_) | Outcome::Duplicate(_) | Outcome::Pending => {}
        }
    }
    let (label, message) = words.deleted;
    Ok(Problem::new(StatusCode::OK, label, message).into_response())
}

/// Job `raw_id` as stored: 404 unless it is one of the service's, and not deleted unless
/// `deleted` may be shown.
async fn existing<J: Jobs>(
    state: &AppState,
    jobs: &J,
    raw_id: &str,
    deleted: bool,
) -> Result<(u64, TimerKey, TimerRecord), Problem> {
    let service = jobs.service();
    let key = service.key(raw_id).ok_or_else(|| not_found(jobs))?;
    let id = raw_id.parse().map_err(|_| not_found(jobs))?;
    match service.job(state, &key).await? {
        Some((record, _)) if deleted || record.status != TimerStatus::Cancelled => {
            Ok((id, key, record))
        }
        _ => Err(not_found(jobs)),
    }
}

/// 422 when another live job is the same as `job` (`except` is the job being changed).
async fn refuse_duplicate<J: Jobs>(
    state: &AppState,
    jobs: &J,
    job: &J::Def,
    except: Option<u64>,
) -> Result<(), Problem> {
    let found = jobs.service().jobs(state, false).await?;
    let taken = found.iter().any(|(id, record, _)| {
        Some(*id) != except
            && !record.status.is_final()
            && jobs
                .stored(*id, &Stored::from(record))
                .is_some_and(|other| jobs.same_job(&other, job))
    });
    if taken {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            jobs.words().invalid,
            jobs.words().exists,
        ));
    }
    Ok(())
}

fn body_of<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, Problem> {
    body.ok()
        .and_then(|body| decode(&body))
        .ok_or_else(|| Problem::new(StatusCode::BAD_REQUEST, INVALID_JSON.0, INVALID_JSON.1))
}

fn not_found<J: Jobs>(jobs: &J) -> Problem {
    let (label, message) = jobs.words().not_found;
    Problem::new(StatusCode::NOT_FOUND, label, message)
}

/// The answer to a create or a change: the job as applied, or (the scheduler's reply being
/// late; the change is durable and will be applied) as `defined` says it will be.
fn answer<J: Jobs>(
    jobs: &J,
    status: StatusCode,
    id: u64,
    outcome: Outcome,
    defined: impl FnOnce() -> (J::Def, TimerSpec, bool, DateTime<Utc>, DateTime<Utc>),
) -> Answer {
    match outcome {
        Outcome::Applied(view) | Outcome::Duplicate(Some(view)) => {
            let timer = Stored::from(&view);
            let job = jobs.stored(id, &timer).ok_or_else(|| not_found(jobs))?;
            Ok(go_json(status, &jobs.show(id, &job, &timer)))
        }
        Outcome::Refused(e) => Err(match e.code {
            ErrorCode::NotFound => not_found(jobs),
            _ => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                jobs.words().invalid,
                e.message,
            ),
        }),
        Outcome::Duplicate(None) | Outcome::Pending => {
            let (job, spec, paused, created_at, updated_at) = defined();
            let timer = Stored::defined(&spec, paused, created_at, updated_at);
            Ok(go_json(status, &jobs.show(id, &job, &timer)))
        }
    }
}
