//! Jobs: created in a batch (all or none), listed, read, changed, deleted with their procs.

use serde_json::{Value, json};

use crate::{World, id_of, marker, refused, time};

/// The ids of `GET /jobs`, sorted.
async fn listed(w: &World) -> Vec<String> {
    let (status, all) = w.get("/jobs").await;
    assert_eq!(status, 200, "{all}");
    let mut ids: Vec<String> = all["jobs"].as_array().unwrap().iter().map(id_of).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_created_in_a_batch_read_listed_changed_and_deleted() {
    let w = World::start().await;
    let (status, none) = w.get("/jobs").await;
    assert_eq!((status, none), (200, json!({"jobs": []})));

    let before = chrono::Utc::now();
    let (status, made) = w
        .json(
            "POST",
            "/jobs",
            json!({"jobs": [
                {"name": "command1", "definition": "/path/to/command1 arg1 arg2"},
                {"name": "command2", "definition": "echo two", "unknown": true},
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let jobs = made["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{made}");
    // In the request's order, each with exactly the document's fields.
    for (job, (name, definition)) in jobs.iter().zip([
        ("command1", "/path/to/command1 arg1 arg2"),
        ("command2", "echo two"),
    ]) {
        let id = id_of(job);
        assert_eq!(
            job,
            &json!({"id": id, "name": name, "definition": definition,
                    "created_at": job["created_at"]})
        );
        let created = time(&job["created_at"]);
        assert!(created >= before - chrono::Duration::seconds(1), "{job}");
    }
    let (one, two) = (jobs[0].clone(), jobs[1].clone());
    let (id1, id2) = (id_of(&one), id_of(&two));
    let mut both = vec![id1.clone(), id2.clone()];
    both.sort();
    assert_eq!(listed(&w).await, both);
    let (status, read) = w.get(&format!("/jobs/{id1}")).await;
    assert_eq!((status, read), (200, json!({"job": one})));

    // A job is a paused native command timer: it never runs by itself.
    let native = w.native(&id1).await;
    assert_eq!(native["status"], "paused", "{native}");
    assert_eq!(
        native["target"]["command"]["run"],
        "/path/to/command1 arg1 arg2"
    );
    assert_eq!(native["retry"]["max_attempts"], 1);
    assert_eq!(
        native["metadata"],
        json!({"facade": "cronng", "cronng.kind": "job", "cronng.name": "command1"})
    );

    // PUT merges the fields given.
    let path = format!("/jobs/{id1}");
    let (status, renamed) = w
        .json("PUT", &path, json!({"job": {"name": "command1-2"}}))
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(
        renamed,
        json!({"job": {"id": id1, "name": "command1-2",
                       "definition": "/path/to/command1 arg1 arg2",
                       "created_at": one["created_at"]}})
    );
    let (status, redefined) = w
        .json(
            "PUT",
            &path,
            json!({"job": {"definition": "echo one", "name": null}}),
        )
        .await;
    assert_eq!(status, 200, "{redefined}");
    assert_eq!(
        (
            redefined["job"]["name"].as_str(),
            redefined["job"]["definition"].as_str()
        ),
        (Some("command1-2"), Some("echo one"))
    );
    assert_eq!(w.native(&id1).await["target"]["command"]["run"], "echo one");
    let (status, same) = w.json("PUT", &path, json!({"job": {}})).await;
    assert_eq!((status, &same), (200, &redefined));
    let (_, read) = w.get(&path).await;
    assert_eq!(read, redefined);
    // Its own name is no conflict; another job's is.
    let (status, _) = w
        .json("PUT", &path, json!({"job": {"name": "command1-2"}}))
        .await;
    assert_eq!(status, 200);
    let (status, taken) = w
        .json("PUT", &path, json!({"job": {"name": "command2"}}))
        .await;
    assert_eq!(
        (status, taken),
        (422, refused("job", "name", "already_exists"))
    );

    // DELETE: 204 without a body; the job is then gone, and its name free again.
    let (status, body) = w.send("DELETE", &path, None).await;
    assert_eq!((status, body), (204, Value::Null));
    for (method, path) in [
        ("GET", path.clone()),
        ("PUT", path.clone()),
        ("DELETE", path.clone()),
        ("GET", format!("{path}/procs")),
        ("GET", format!("{path}/log")),
    ] {
        let body = (method == "PUT").then_some(r#"{"job": {"name": "x"}}"#);
        let (status, gone) = w.send(method, &path, body).await;
        assert_eq!(
            (status, gone),
            (404, json!({"message": "Not Found"})),
            "{method} {path}"
        );
    }
    assert_eq!(listed(&w).await, vec![id2.clone()]);
    assert_eq!(w.native(&id1).await["status"], "cancelled");
    let again = w.job("command1-2", "true").await;
    assert_ne!(id_of(&again), id1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_created_whole_or_not_at_all() {
    let w = World::start().await;
    let kept = w.job("kept", "true").await;
    let cases = [
        // The first refused item names the field.
        (
            json!({"jobs": [{"name": "a", "definition": "true"}, {"name": "b"}]}),
            refused("job", "definition", "missing_field"),
        ),
        (
            json!({"jobs": [{"name": "a", "definition": "true"},
                            {"definition": "x"}, {"name": "c", "definition": 5}]}),
            refused("job", "name", "missing_field"),
        ),
        (
            json!({"jobs": [{"name": "a", "definition": "true"}, {"name": "c", "definition": 5}]}),
            refused("job", "definition", "invalid"),
        ),
        // A name is unique among the jobs, and within the batch.
        (
            json!({"jobs": [{"name": "a", "definition": "true"}, {"name": "kept", "definition": "x"}]}),
            refused("job", "name", "already_exists"),
        ),
        (
            json!({"jobs": [{"name": "a", "definition": "true"}, {"name": "a", "definition": "x"}]}),
            refused("job", "name", "already_exists"),
        ),
    ];
    for (request, answer) in cases {
        let (status, body) = w.json("POST", "/jobs", request.clone()).await;
        assert_eq!((status, body), (422, answer), "{request}");
    }
    // Nothing was made by any of them.
    assert_eq!(listed(&w).await, vec![id_of(&kept)]);
    let natives = w
        .ontime
        .http
        .get(w.ontime.api("/namespaces/cronng/timers"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(natives["items"].as_array().unwrap().len(), 1, "{natives}");

    // A batch of many, all made, in order.
    let items: Vec<Value> = (0..40)
        .map(|i| json!({"name": format!("job-{i}"), "definition": format!("echo {i}")}))
        .collect();
    let (status, made) = w.json("POST", "/jobs", json!({ "jobs": items })).await;
    assert_eq!(status, 201, "{made}");
    let names: Vec<&str> = made["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..40).map(|i| format!("job-{i}")).collect();
    assert_eq!(names, expected);
    assert_eq!(listed(&w).await.len(), 41);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_job_stops_its_procs() {
    let w = World::start().await;
    let started = marker("started");
    let job = w
        .job("long", &format!("touch {}; sleep 30", started.display()))
        .await;
    let job_id = id_of(&job);
    let cron = id_of(&w.proc(&job_id, "CRON", Some("0 0 1 1 *")).await);
    let adhoc = id_of(&w.proc(&job_id, "ADHOC", None).await);
    ontime_testkit::eventually(crate::WAIT, "the ADHOC run started", || async {
        started.exists().then_some(())
    })
    .await;
    let other = w.job("other", "true").await;
    let kept = id_of(&w.proc(&id_of(&other), "CRON", Some("0 0 1 1 *")).await);

    let (status, _) = w.send("DELETE", &format!("/jobs/{job_id}"), None).await;
    assert_eq!(status, 204);
    for proc in [&cron, &adhoc] {
        let (status, _) = w.get(&format!("/procs/{proc}")).await;
        assert_eq!(status, 404, "{proc}");
        assert_eq!(w.native(proc).await["status"], "cancelled", "{proc}");
    }
    // The running process was killed (SIGTERM: 128 + 15).
    let run = ontime_testkit::eventually(crate::WAIT, "the killed run's entry", || async {
        w.executions(&adhoc)
            .await
            .into_iter()
            .find(|e| e.get("run").is_some())
    })
    .await;
    assert_eq!(run["run"]["signal"], 15, "{run}");
    // Another job's procs go on.
    let (status, _) = w.get(&format!("/procs/{kept}")).await;
    assert_eq!(status, 200);
    let _ = std::fs::remove_file(&started);
}
