//! Bad input on every route: GitHub's 400, 422, 404 and 405, and nothing changed by any.

use serde_json::{Value, json};

use crate::{World, id_of, refused};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_in_github_s_shapes_and_change_nothing() {
    let w = World::start().await;
    let job = w.job("job", "true").await;
    let job_id = id_of(&job);
    let proc_id = id_of(&w.proc(&job_id, "CRON", Some("0 0 1 1 *")).await);
    let unknown = uuid::Uuid::new_v4().to_string();
    let job_path = format!("/jobs/{job_id}");
    let bad_json = json!({"message": "Problems parsing JSON"});
    let not_found = json!({"message": "Not Found"});

    // Bodies that are not JSON, or not the route's envelope: 400.
    let envelopes: [(&str, &str, &[&str]); 3] = [
        (
            "POST",
            "/jobs",
            &[
                "",
                "nonsense",
                "{",
                "[]",
                "{}",
                r#"{"jobs": null}"#,
                r#"{"jobs": {"name": "a", "definition": "b"}}"#,
                r#"{"jobs": [1]}"#,
                r#"{"job": [{"name": "a", "definition": "b"}]}"#,
                r#"{"jobs":[{"name":"command1","definition":"/path/to/command1 arg1 arg2"},]}"#,
            ],
        ),
        (
            "PUT",
            &job_path,
            &[
                "",
                "{",
                r#"{"name": "x"}"#,
                r#"{"job": "x"}"#,
                r#"{"job": null}"#,
                r#"{"jobs": [{"name": "x"}]}"#,
            ],
        ),
        (
            "POST",
            "/procs",
            &[
                "",
                "[1]",
                r#"{"job_id": "x", "trigger_type": "ADHOC"}"#,
                r#"{"proc": [1]}"#,
            ],
        ),
    ];
    for (method, path, bodies) in envelopes {
        for body in bodies {
            let (status, answer) = w.send(method, path, Some(body)).await;
            assert_eq!(
                (status, &answer),
                (400, &bad_json),
                "{method} {path} {body}"
            );
        }
    }

    // Values: 422, the first one at fault.
    let job_cases = [
        (json!({"jobs": []}), "jobs", "missing_field"),
        (
            json!({"jobs": [{"definition": "x"}]}),
            "name",
            "missing_field",
        ),
        (
            json!({"jobs": [{"name": null, "definition": "x"}]}),
            "name",
            "missing_field",
        ),
        (
            json!({"jobs": [{"name": "n"}]}),
            "definition",
            "missing_field",
        ),
        (
            json!({"jobs": [{"name": 1, "definition": "x"}]}),
            "name",
            "invalid",
        ),
        (
            json!({"jobs": [{"name": " ", "definition": "x"}]}),
            "name",
            "invalid",
        ),
        (
            json!({"jobs": [{"name": "n", "definition": ""}]}),
            "definition",
            "invalid",
        ),
        (
            json!({"jobs": [{"name": "n", "definition": ["ls"]}]}),
            "definition",
            "invalid",
        ),
        (
            json!({"jobs": [{"name": "job", "definition": "x"}]}),
            "name",
            "already_exists",
        ),
    ];
    for (body, field, code) in job_cases {
        let (status, answer) = w.json("POST", "/jobs", body.clone()).await;
        assert_eq!(
            (status, answer),
            (422, refused("job", field, code)),
            "{body}"
        );
    }
    for (body, field) in [
        (json!({"job": {"definition": " "}}), "definition"),
        (json!({"job": {"name": ""}}), "name"),
        (json!({"job": {"name": 1}}), "name"),
    ] {
        let (status, answer) = w.json("PUT", &job_path, body.clone()).await;
        assert_eq!(
            (status, answer),
            (422, refused("job", field, "invalid")),
            "{body}"
        );
    }
    let proc_cases = [
        (json!({"trigger_type": "ADHOC"}), "job_id", "missing_field"),
        (
            json!({"job_id": 7, "trigger_type": "ADHOC"}),
            "job_id",
            "invalid",
        ),
        (json!({"job_id": job_id}), "trigger_type", "missing_field"),
        (
            json!({"job_id": job_id, "trigger_type": "DAILY"}),
            "trigger_type",
            "invalid",
        ),
        (
            json!({"job_id": job_id, "trigger_type": "cron"}),
            "trigger_type",
            "invalid",
        ),
        (
            json!({"job_id": job_id, "trigger_type": "CRON"}),
            "crontab",
            "missing_field",
        ),
        (
            json!({"job_id": job_id, "trigger_type": "CRON", "crontab": "* * *"}),
            "crontab",
            "invalid",
        ),
        (
            json!({"job_id": job_id, "trigger_type": "CRON", "crontab": "0 * * * * *"}),
            "crontab",
            "invalid",
        ),
        (
            json!({"job_id": job_id, "trigger_type": "CRON", "crontab": "61 * * * *"}),
            "crontab",
            "invalid",
        ),
        (
            json!({"job_id": job_id, "trigger_type": "CRON", "crontab": "0 0 30 2 *"}),
            "crontab",
            "invalid",
        ),
        (
            json!({"job_id": job_id, "trigger_type": "CRON", "crontab": 5}),
            "crontab",
            "invalid",
        ),
        // A job that does not exist (or is not a job) is `missing`.
        (
            json!({"job_id": unknown, "trigger_type": "ADHOC"}),
            "job_id",
            "missing",
        ),
        (
            json!({"job_id": "not-a-uuid", "trigger_type": "ADHOC"}),
            "job_id",
            "missing",
        ),
        (
            json!({"job_id": proc_id, "trigger_type": "ADHOC"}),
            "job_id",
            "missing",
        ),
    ];
    for (body, field, code) in proc_cases {
        let (status, answer) = w.json("POST", "/procs", json!({ "proc": body })).await;
        assert_eq!(
            (status, answer),
            (422, refused("proc", field, code)),
            "{body}"
        );
    }

    // Unknown ids, ids that are not UUIDs, a proc's id as a job's and a job's as a proc's,
    // paths under the collections that name nothing: 404.
    let change = r#"{"job": {"name": "other"}}"#;
    for (method, path, body) in [
        ("GET", format!("/jobs/{unknown}"), None),
        ("PUT", format!("/jobs/{unknown}"), Some(change)),
        ("DELETE", format!("/jobs/{unknown}"), None),
        ("GET", format!("/jobs/{unknown}/procs"), None),
        ("GET", format!("/jobs/{unknown}/log"), None),
        ("GET", "/jobs/42".to_owned(), None),
        ("GET", "/jobs/not%20a%20uuid".to_owned(), None),
        ("GET", format!("/jobs/{proc_id}"), None),
        ("PUT", format!("/jobs/{proc_id}"), Some(change)),
        ("DELETE", format!("/jobs/{proc_id}"), None),
        ("GET", format!("/jobs/{proc_id}/log"), None),
        ("GET", format!("/procs/{unknown}"), None),
        ("DELETE", format!("/procs/{unknown}"), None),
        ("GET", "/procs/42".to_owned(), None),
        ("GET", format!("/procs/{job_id}"), None),
        ("DELETE", format!("/procs/{job_id}"), None),
        ("GET", format!("/jobs/{job_id}/other"), None),
        ("GET", format!("/jobs/{job_id}/procs/x"), None),
        ("GET", format!("/procs/{proc_id}/log"), None),
        ("GET", "/jobs/".to_owned(), None),
    ] {
        let (status, answer) = w.send(method, &path, body).await;
        assert_eq!((status, &answer), (404, &not_found), "{method} {path}");
    }

    // Other methods on known paths: 405, with the methods the path has.
    for (method, path, allow) in [
        ("PATCH", "/jobs".to_owned(), "GET, POST"),
        ("DELETE", "/jobs".to_owned(), "GET, POST"),
        ("POST", job_path.clone(), "GET, PUT, DELETE"),
        ("PATCH", job_path.clone(), "GET, PUT, DELETE"),
        ("POST", format!("{job_path}/procs"), "GET"),
        ("DELETE", format!("{job_path}/log"), "GET"),
        ("GET", "/procs".to_owned(), "POST"),
        ("PUT", format!("/procs/{proc_id}"), "GET, DELETE"),
    ] {
        let reply = w.request(method, &path, None, None).await;
        assert_eq!(
            (reply.status, &reply.body),
            (405, &json!({"message": "Method Not Allowed"})),
            "{method} {path}"
        );
        assert_eq!(reply.headers["allow"], allow, "{method} {path}");
    }

    // Nothing changed: the one job and its one proc, as they were.
    let (_, jobs) = w.get("/jobs").await;
    assert_eq!(jobs, json!({"jobs": [job]}));
    let (_, procs) = w.get(&format!("{job_path}/procs")).await;
    let ids: Vec<String> = procs["procs"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![proc_id]);
    let natives: Value = w
        .ontime
        .http
        .get(w.ontime.api("/namespaces/cronng/timers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(natives["items"].as_array().unwrap().len(), 2, "{natives}");
}
