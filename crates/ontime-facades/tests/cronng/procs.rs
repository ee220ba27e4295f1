//! Procs: ADHOC runs and their log, CRON procs and their start times, stopping a proc.

use chrono::{DateTime, DurationRound, Timelike, Utc};
use serde_json::{Value, json};

use crate::{World, id_of, marker, time};

/// The first instant after `at` that `minute` of an hour (any minute with `None`) starts.
fn next_minute(at: DateTime<Utc>, minute: Option<u32>) -> DateTime<Utc> {
    let mut next = at.duration_trunc(chrono::Duration::minutes(1)).unwrap();
    loop {
        next += chrono::Duration::minutes(1);
        if minute.is_none_or(|m| next.minute() == m) {
            return next;
        }
    }
}

/// The procs `GET /jobs/{job}/procs` lists, after checking the job it names.
async fn current(w: &World, job: &Value) -> Vec<Value> {
    let (status, listed) = w.get(&format!("/jobs/{}/procs", id_of(job))).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["job"],
        json!({"id": job["id"], "name": job["name"]}),
        "{listed}"
    );
    listed["procs"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adhoc_proc_runs_its_job_once_and_its_run_is_logged() {
    let w = World::start().await;
    let job = w.job("hello", "echo hi").await;
    let job_id = id_of(&job);
    let (status, empty) = w.get(&format!("/jobs/{job_id}/log")).await;
    assert_eq!(
        (status, empty),
        (
            200,
            json!({"job": {"id": job_id, "name": "hello"}, "log": []})
        )
    );

    let before = Utc::now()
        .duration_trunc(chrono::Duration::seconds(1))
        .unwrap();
    // A crontab is ignored for ADHOC.
    let made = w.proc(&job_id, "ADHOC", Some("not a crontab")).await;
    let after = Utc::now();
    let proc_id = id_of(&made);
    assert_eq!(
        made,
        json!({"id": proc_id, "job_id": job_id, "created_at": made["created_at"],
               "start_at": made["start_at"]})
    );
    for stamp in ["created_at", "start_at"] {
        let at = time(&made[stamp]);
        assert!(before <= at && at <= after, "{made}");
    }

    let log = w.log(&job_id, 1).await;
    let run = &log[0];
    assert_eq!(
        run,
        &json!({"proc_id": proc_id, "result": "SUCCESS", "code": 0,
                "start_at": run["start_at"], "end_at": run["end_at"],
                "stdout": "hi\n", "stderr": ""})
    );
    assert!(time(&run["start_at"]) <= time(&run["end_at"]), "{run}");
    // Once run, the proc shows when it started, and is no longer a current process.
    let (status, shown) = w.get(&format!("/procs/{proc_id}")).await;
    assert_eq!(
        (status, shown),
        (
            200,
            json!({"proc": {"id": proc_id, "job_id": job_id, "trigger_type": "ADHOC",
                            "start_at": run["start_at"]}})
        )
    );
    assert_eq!(current(&w, &job).await, Vec::<Value>::new());
    // A native timer run once, never retried.
    let native = w.native(&proc_id).await;
    assert_eq!(
        (native["status"].as_str(), native["runs"].as_u64()),
        (Some("succeeded"), Some(1)),
        "{native}"
    );

    // A failed run: FAILED with its exit code; newest first.
    let (status, _) = w
        .json(
            "PUT",
            &format!("/jobs/{job_id}"),
            json!({"job": {"definition": "echo out; echo err >&2; exit 3"}}),
        )
        .await;
    assert_eq!(status, 200);
    let failing = id_of(&w.proc(&job_id, "ADHOC", None).await);
    let log = w.log(&job_id, 2).await;
    assert_eq!(
        log[0],
        json!({"proc_id": failing, "result": "FAILED", "code": 3,
               "start_at": log[0]["start_at"], "end_at": log[0]["end_at"],
               "stdout": "out\n", "stderr": "err\n"})
    );
    assert_eq!(log[1], *run);
    assert_eq!(w.native(&failing).await["runs"], 1, "not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_proc_is_due_on_its_crontab_minute_first_until_it_is_stopped() {
    let w = World::start().await;
    let job = w.job("minutely", "true").await;
    let job_id = id_of(&job);

    let before = Utc::now();
    let every = w.proc(&job_id, "CRON", Some("* * * * *")).await;
    let hourly = w.proc(&job_id, "CRON", Some("1 * * * *")).await;
    let after = Utc::now();
    let (every_id, hourly_id) = (id_of(&every), id_of(&hourly));
    // `start_at` is the next whole minute (or, if the minute turned meanwhile, the one
    // after); `1 * * * *` is minute 1 of every hour, at second 0.
    let whole_minutes = [next_minute(before, None), next_minute(after, None)];
    assert!(whole_minutes.contains(&time(&every["start_at"])), "{every}");
    let minute_one = [next_minute(before, Some(1)), next_minute(after, Some(1))];
    assert!(minute_one.contains(&time(&hourly["start_at"])), "{hourly}");
    assert_eq!(time(&hourly["start_at"]).minute(), 1);

    let (status, shown) = w.get(&format!("/procs/{hourly_id}")).await;
    assert_eq!(
        (status, shown),
        (
            200,
            json!({"proc": {"id": hourly_id, "job_id": job_id, "trigger_type": "CRON",
                            "crontab": "1 * * * *", "start_at": hourly["start_at"]}})
        )
    );
    let (_, shown) = w.get(&format!("/procs/{every_id}")).await;
    let start = time(&shown["proc"]["start_at"]);
    assert_eq!((start.second(), start.nanosecond()), (0, 0), "{shown}");
    assert_eq!(shown["proc"]["crontab"], "* * * * *");
    // A native cron timer in UTC.
    let native = w.native(&every_id).await;
    assert_eq!(
        native["schedule"],
        json!({"cron": "* * * * *", "timezone": "UTC"})
    );
    assert_eq!(
        native["metadata"],
        json!({"facade": "cronng", "cronng.kind": "proc", "cronng.job": job_id,
               "cronng.trigger": "CRON"})
    );

    let mut listed: Vec<(String, String)> = current(&w, &job)
        .await
        .iter()
        .map(|p| {
            assert_eq!(p["trigger_type"], "CRON", "{p}");
            time(&p["start_at"]);
            (id_of(p), p["trigger_type"].as_str().unwrap().to_owned())
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        (every_id.clone(), "CRON".to_owned()),
        (hourly_id.clone(), "CRON".to_owned()),
    ];
    expected.sort();
    assert_eq!(listed, expected);

    // A change of the job's definition is for the procs started after it.
    let (status, _) = w
        .json(
            "PUT",
            &format!("/jobs/{job_id}"),
            json!({"job": {"definition": "echo changed"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        w.native(&every_id).await["target"]["command"]["run"],
        "true"
    );
    let later = id_of(&w.proc(&job_id, "CRON", Some("0 0 1 1 *")).await);
    assert_eq!(
        w.native(&later).await["target"]["command"]["run"],
        "echo changed"
    );

    // DELETE stops it: 404 from then on, and no longer a current process.
    let path = format!("/procs/{every_id}");
    let (status, body) = w.send("DELETE", &path, None).await;
    assert_eq!((status, body), (204, Value::Null));
    let gone = json!({"message": "Not Found"});
    let (status, body) = w.get(&path).await;
    assert_eq!((status, &body), (404, &gone));
    let (status, body) = w.send("DELETE", &path, None).await;
    assert_eq!((status, &body), (404, &gone));
    assert_eq!(w.native(&every_id).await["status"], "cancelled");
    let ids: Vec<String> = current(&w, &job).await.iter().map(id_of).collect();
    assert!(!ids.contains(&every_id), "{ids:?}");
    assert_eq!(ids.len(), 2, "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_running_proc_kills_its_process_and_logs_the_run() {
    let w = World::start().await;
    let started = marker("started");
    let job = w
        .job("sleeper", &format!("touch {}; sleep 30", started.display()))
        .await;
    let job_id = id_of(&job);
    let proc_id = id_of(&w.proc(&job_id, "ADHOC", None).await);
    ontime_testkit::eventually(crate::WAIT, "the run started", || async {
        started.exists().then_some(())
    })
    .await;
    // Running: a current process, which shows when it was due (when it started).
    let listed = current(&w, &job).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (id_of(&listed[0]), listed[0]["trigger_type"].as_str()),
        (proc_id.clone(), Some("ADHOC"))
    );
    time(&listed[0]["start_at"]);

    let (status, _) = w.send("DELETE", &format!("/procs/{proc_id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = w.get(&format!("/procs/{proc_id}")).await;
    assert_eq!(status, 404);
    assert_eq!(current(&w, &job).await, Vec::<Value>::new());
    // Killed with its group (SIGTERM): the shell's convention, 128 + 15. The stopped proc's
    // run stays in its job's log.
    let log = w.log(&job_id, 1).await;
    assert_eq!(
        (
            log[0]["proc_id"].as_str(),
            log[0]["result"].as_str(),
            log[0]["code"].as_i64()
        ),
        (Some(proc_id.as_str()), Some("FAILED"), Some(143)),
        "{log:?}"
    );
    let _ = std::fs::remove_file(&started);
}
