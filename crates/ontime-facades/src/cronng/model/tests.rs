use serde_json::{Value, json};

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The view of a timer defined by `spec`, in `status`.
fn view(spec: &TimerSpec, status: &str, next: Option<&str>, in_flight: &[u64]) -> TimerView {
    serde_json::from_value(json!({
        "namespace": "cronng",
        "id": "0b6f3c1e-7d4a-4a8e-9a51-3f2d6c1b0a99",
        "schedule": spec.schedule,
        "target": spec.target,
        "retry": spec.retry,
        "metadata": spec.metadata,
        "status": status,
        "next_fire_at": next,
        "upcoming": [],
        "in_flight": in_flight,
        "attempts": 0,
        "last_result": null,
        "runs": 0, "successes": 0, "failures": 0, "triggered": 0, "skipped": 0, "expired": 0,
        "created_at": "2026-03-04T10:00:00.250Z",
        "updated_at": "2026-03-04T10:00:00.250Z",
        "revision": 1,
    }))
    .unwrap()
}

/// An attempt started at `started`, with `run` (exit code, signal, end, stdout) if any.
fn attempt(
    started: &str,
    outcome: &str,
    run: Option<(Option<i32>, Option<i32>, &str, &str)>,
) -> Attempt {
    let mut doc = json!({
        "delivery_id": "cronng/p/1/1", "generation": 1, "occurrence": 1, "attempt": 1,
        "due_at": started, "started_at": started, "latency_ms": 5, "outcome": outcome,
    });
    if let Some((exit_code, signal, ended_at, stdout)) = run {
        doc["run"] = json!({"ended_at": ended_at, "stdout": stdout, "stderr": "err"});
        if let Some(code) = exit_code {
            doc["run"]["exit_code"] = json!(code);
        }
        if let Some(signal) = signal {
            doc["run"]["signal"] = json!(signal);
        }
    }
    serde_json::from_value(doc).unwrap()
}

fn command(run: &str) -> CommandTarget {
    CommandTarget {
        run: run.into(),
        env: Default::default(),
        dir: None,
        timeout: Some("1h".parse().unwrap()),
    }
}

#[test]
fn a_job_is_a_paused_command_timer_that_never_comes_due() {
    let mut spec = job_spec("backup", "/usr/bin/backup --all");
    spec.validate().unwrap();
    assert_eq!(
        serde_json::to_value(&spec).unwrap(),
        json!({
            "schedule": {"at": "9999-12-31T23:59:59.999Z"},
            "target": {"command": {"run": "/usr/bin/backup --all", "timeout": "24h"}},
            "retry": {"max_attempts": 1, "initial_interval": "1s", "multiplier": 2.0,
                      "max_interval": "10m"},
            "metadata": {"facade": "cronng", "cronng.kind": "job", "cronng.name": "backup"},
        })
    );
    let v = view(&spec, "paused", None, &[]);
    assert_eq!(
        job(&v).unwrap(),
        Job {
            id: v.id.clone(),
            name: "backup".into(),
            definition: "/usr/bin/backup --all".into(),
            created_at: "2026-03-04T10:00:00Z".into(),
        }
    );
    assert!(proc(&v).is_none(), "a job is no proc");
}

#[test]
fn a_cron_proc_runs_its_job_s_command_on_the_crontab_in_utc() {
    let spec = proc_spec(
        "job-1",
        &command("echo hi"),
        &Trigger::Cron("1 * * * *".into()),
        t("2026-03-04T10:30:00Z"),
    );
    let mut checked = spec.clone();
    checked.validate().unwrap();
    assert_eq!(
        serde_json::to_value(&spec).unwrap(),
        json!({
            "schedule": {"cron": "1 * * * *", "timezone": "UTC"},
            "target": {"command": {"run": "echo hi", "timeout": "1h"}},
            "retry": {"max_attempts": 1, "initial_interval": "1s", "multiplier": 2.0,
                      "max_interval": "10m"},
            "metadata": {"facade": "cronng", "cronng.kind": "proc", "cronng.job": "job-1",
                         "cronng.trigger": "CRON"},
        })
    );
    // Minute 1 of every hour, at second 0.
    assert_eq!(
        spec.schedule.first_due(t("2026-03-04T10:30:00Z")),
        Some(t("2026-03-04T11:01:00Z"))
    );
    let v = view(&spec, "scheduled", Some("2026-03-04T11:01:00Z"), &[]);
    assert_eq!(
        proc(&v).unwrap(),
        Proc {
            id: v.id.clone(),
            job_id: "job-1".into(),
            trigger_type: "CRON",
            crontab: Some("1 * * * *".into()),
            start_at: Some("2026-03-04T11:01:00Z".into()),
        }
    );
    assert!(job(&v).is_none(), "a proc is no job");
    assert!(current(&v));
    // While a run is in flight, it is the run's start; the next one is already due next.
    let running = view(&spec, "running", Some("2026-03-04T12:01:00Z"), &[3]);
    assert_eq!(start_at(&running), Some(t("2026-03-04T11:01:00Z")));
    assert!(current(&running));
    assert!(!current(&view(&spec, "cancelled", None, &[])));
    assert_eq!(
        proc(&view(&spec, "paused", None, &[])).unwrap().start_at,
        None
    );
}

#[test]
fn an_adhoc_proc_is_due_when_it_is_made_and_shows_when_it_ran() {
    let now = t("2026-03-04T10:30:00.400Z");
    let spec = proc_spec("job-1", &command("exit 3"), &Trigger::Adhoc, now);
    let mut checked = spec.clone();
    checked.validate().unwrap();
    assert_eq!(spec.schedule, Schedule::at(now));
    assert_eq!(spec.metadata[TRIGGER_KEY], "ADHOC");
    let pending = view(&spec, "scheduled", Some("2026-03-04T10:30:00.400Z"), &[]);
    let shown = proc(&pending).unwrap();
    assert_eq!(
        (shown.crontab, shown.start_at.as_deref()),
        (None, Some("2026-03-04T10:30:00Z"))
    );
    let json = serde_json::to_value(proc(&pending).unwrap()).unwrap();
    assert!(json.get("crontab").is_none(), "{json}");
    assert!(current(&pending));
    let mut done = view(&spec, "failed", None, &[]);
    done.last_result = Some(attempt(
        "2026-03-04T10:30:01.700Z",
        "failed",
        Some((Some(3), None, "2026-03-04T10:30:01.900Z", "")),
    ));
    assert_eq!(start_at(&done), Some(t("2026-03-04T10:30:01.700Z")));
    assert!(
        !current(&done),
        "a finished ADHOC proc is no current process"
    );
}

#[test]
fn the_previous_occurrence_is_found_however_far_back() {
    let anchor = t("2026-01-01T00:00:00Z");
    let every_minute = cron_schedule("* * * * *");
    assert_eq!(
        previous(&every_minute, anchor, t("2026-03-04T10:31:00Z")),
        Some(t("2026-03-04T10:30:00Z"))
    );
    let yearly = cron_schedule("0 0 1 1 *");
    assert_eq!(
        previous(&yearly, anchor, t("2027-01-01T00:00:00Z")),
        Some(t("2026-01-01T00:00:00Z"))
    );
    let leap = cron_schedule("0 12 29 2 *");
    assert_eq!(
        previous(&leap, anchor, t("2032-02-29T12:00:00Z")),
        Some(t("2028-02-29T12:00:00Z"))
    );
    // A cluster, then a long gap: the last of the cluster.
    let cluster = cron_schedule("*/10 0 1 * *");
    assert_eq!(
        previous(&cluster, anchor, t("2026-04-01T00:00:00Z")),
        Some(t("2026-03-01T00:50:00Z"))
    );
}

#[test]
fn the_log_shows_runs_newest_first_with_their_code_and_output() {
    let ok = attempt(
        "2026-03-04T10:00:00.100Z",
        "succeeded",
        Some((Some(0), None, "2026-03-04T10:00:01.900Z", "hi\n")),
    );
    let failed = attempt(
        "2026-03-04T10:05:00Z",
        "failed",
        Some((Some(255), None, "2026-03-04T10:05:02Z", "")),
    );
    let killed = attempt(
        "2026-03-04T10:07:00Z",
        "failed",
        Some((None, Some(15), "2026-03-04T10:07:09Z", "partial")),
    );
    let no_run = attempt("2026-03-04T10:09:00Z", "superseded", None);
    let entries = log([
        ("a", 1, &ok),
        ("b", 2, &failed),
        ("a", 3, &killed),
        ("b", 4, &no_run),
    ]);
    let shown: Vec<Value> = entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(
        shown,
        vec![
            json!({"proc_id": "a", "result": "FAILED", "code": 143,
                   "start_at": "2026-03-04T10:07:00Z", "end_at": "2026-03-04T10:07:09Z",
                   "stdout": "partial", "stderr": "err"}),
            json!({"proc_id": "b", "result": "FAILED", "code": 255,
                   "start_at": "2026-03-04T10:05:00Z", "end_at": "2026-03-04T10:05:02Z",
                   "stdout": "", "stderr": "err"}),
            json!({"proc_id": "a", "result": "SUCCESS", "code": 0,
                   "start_at": "2026-03-04T10:00:00Z", "end_at": "2026-03-04T10:00:01Z",
                   "stdout": "hi\n", "stderr": "err"}),
        ]
    );
    // Started in the same instant: the one logged last first.
    let same = log([("a", 7, &ok), ("b", 9, &ok)]);
    assert_eq!(same[0].proc_id, "b");
}

#[test]
fn times_are_utc_to_the_second() {
    assert_eq!(
        stamp(t("2001-01-01T12:00:00.999+02:00")),
        "2001-01-01T10:00:00Z"
    );
}

#[test]
fn listing_filters_name_the_kind_and_the_job() {
    let f = filter(PROC, Some("j"), None);
    assert_eq!(
        f.metadata,
        Metadata::from([
            ("facade".to_owned(), "cronng".to_owned()),
            ("cronng.kind".to_owned(), "proc".to_owned()),
            ("cronng.job".to_owned(), "j".to_owned()),
        ])
    );
    assert!(f.admits_status(TimerStatus::Scheduled));
    assert!(!f.admits_status(TimerStatus::Cancelled));
    assert!(filter(JOB, None, Some(TimerStatus::Cancelled)).admits_status(TimerStatus::Cancelled));
}
