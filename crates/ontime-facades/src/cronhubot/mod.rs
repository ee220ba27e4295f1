//! CronHubot's API (`/cronjobs`), as its document describes it: the routes its code never
//! served (`GET`, `PATCH`, `DELETE` of one job) included, plus `PUT` as a whole
//! replacement. `/health` is the gateway's, which carries CronHubot's `api` and `mysql`.
//!
//! - `GET /cronjobs`: the active jobs whose `stop_at` has not passed, by id, `[]` when none;
//!   `?status=1|9|99`, `?expression=`, `?name=`, `?group_id=` select others (`9` and `99`
//!   both mean the inactive ones: paused, stopped, expired or deleted);
//! - `POST /cronjobs`: 201 with the job, its integer `id` (from 1000) included;
//! - `GET|PATCH|PUT|DELETE /cronjobs/{id}`: the job; a merge; a whole replacement; 200
//!   `cronjob_deleted`. A deletion is soft, as the original's was: the job stops for good
//!   and still reads, with status 99.
//!
//! Errors are the document's: 400 `invalid_json`, 422 `invalid_cronjob` with the reason (a
//! duplicate url and expression among the jobs not finished is `Cronjob already exists`),
//! 404 `cronjob_not_found`. See [`job`] for the mapping to native timers.

mod job;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, Utc};
use ontime_core::Limits;
use ontime_core::timer::TimerSpec;
use ontime_gateway::AppState;

use crate::cron_service::{Change, Jobs, Service, Stored, Words, routes};
pub use job::{CronJob, CronJobIn, Definition, with_cron_id};

/// CronHubot's jobs.
pub struct CronHubot(pub Service);

/// The API's routes over `service`.
pub fn router(service: Service) -> Router<AppState> {
    routes("/cronjobs", Arc::new(CronHubot(service)))
}

impl Jobs for CronHubot {
    type In = CronJobIn;
    type Def = Definition;
    type Out = CronJob;

    const SOFT_DELETE: bool = true;

    fn service(&self) -> &Service {
        &self.0
    }

    fn words(&self) -> Words {
        Words {
            invalid: "invalid_cronjob",
            not_found: ("cronjob_not_found", "The cronjob was not found"),
            deleted: ("cronjob_deleted", "The cronjob was successfully deleted"),
            exists: "Cronjob already exists",
        }
    }

    fn definition(
        &self,
        input: &CronJobIn,
        current: Option<&Definition>,
        change: Change,
        now: DateTime<Utc>,
    ) -> Result<Definition, String> {
        job::definition(input, current, change, now, self.0.timezone)
    }

    fn spec(&self, id: u64, job: &Definition, limits: &Limits) -> Result<TimerSpec, String> {
        job::spec(&self.0, id, job, limits)
    }

    fn stored(&self, id: u64, timer: &Stored<'_>) -> Option<Definition> {
        job::stored(id, timer)
    }

    fn active(&self, job: &Definition) -> bool {
        job.active
    }

    fn same_job(&self, a: &Definition, b: &Definition) -> bool {
        a.url == b.url && a.expression == b.expression
    }

    fn show(&self, id: u64, job: &Definition, timer: &Stored<'_>) -> CronJob {
        job::cron_job(id, job, timer, self.0.timezone)
    }

    fn listed(
        &self,
        job: &Definition,
        _timer: &Stored<'_>,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> bool {
        let active = job.active && job.stop_at.is_none_or(|at| at > now);
        let status_matches = match query.get("status").map(String::as_str) {
            None | Some("1") => active,
            Some("9" | "99") => !active,
            Some(_) => false,
        };
        status_matches
            && query.get("expression").is_none_or(|e| e == &job.expression)
            && query.get("name").is_none_or(|n| n == &job.name)
            && query
                .get("group_id")
                .is_none_or(|g| g == &job.group_id.to_string())
    }
}
