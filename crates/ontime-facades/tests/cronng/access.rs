//! Who may do what: tokens (reads need `read`, anything else `command`), and the operator's
//! namespaces enabled for commands.

use serde_json::{Value, json};

use crate::{NS, World, id_of, refused};

const OPERATOR: &str = "operator-token-0123456789abcdef";

/// A token of `role` over `namespaces`, made by the operator.
async fn token(w: &World, role: &str, namespaces: Value) -> String {
    let reply = w
        .ontime
        .http
        .post(w.ontime.api("/tokens"))
        .bearer_auth(OPERATOR)
        .json(&json!({"name": format!("{role} token"), "role": role, "namespaces": namespaces}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let made: Value = reply.json().await.unwrap();
    made["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_need_a_token_with_the_command_role() {
    let w = World::start_with(ontime_gateway::GatewayConfig {
        auth: ontime_gateway::Auth::Tokens {
            admin_token: Some(OPERATOR.into()),
        },
        command_namespaces: vec![ontime_core::Namespace::parse(NS).unwrap()],
        ..ontime_testkit::gateway_config()
    })
    .await;
    let writer = token(&w, "write", json!([NS])).await;
    let runner = token(&w, "command", json!([NS])).await;
    let reader = token(&w, "read", json!([NS])).await;
    let elsewhere = token(&w, "command", json!(["other"])).await;
    let jobs = r#"{"jobs": [{"name": "a", "definition": "true"}]}"#;

    // No token, or one that is not a token: GitHub's 401.
    for bad in [None, Some("ot_0123456789abcdef_not-the-secret")] {
        for (method, path, body) in [
            ("GET", "/jobs", None),
            ("POST", "/jobs", Some(jobs)),
            ("GET", "/procs/0b6f3c1e-7d4a-4a8e-9a51-3f2d6c1b0a99", None),
        ] {
            let reply = w.request(method, path, body, bad).await;
            assert_eq!(
                (reply.status, &reply.body),
                (401, &json!({"message": "Requires authentication"})),
                "{method} {path}"
            );
            assert_eq!(reply.headers["www-authenticate"], "Bearer realm=\"ontime\"");
        }
    }

    // The command role creates; `write` and `read` read but change nothing.
    let made = w.request("POST", "/jobs", Some(jobs), Some(&runner)).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let job = made.body["jobs"][0].clone();
    let job_id = id_of(&job);
    let forbidden = json!({"message": "Forbidden"});
    for token in [&writer, &reader] {
        let listed = w.request("GET", "/jobs", None, Some(token)).await;
        assert_eq!(
            (listed.status, &listed.body),
            (200, &json!({"jobs": [job]}))
        );
        for (method, path, body) in [
            ("POST", "/jobs".to_owned(), jobs.to_owned()),
            (
                "PUT",
                format!("/jobs/{job_id}"),
                r#"{"job": {"name": "b"}}"#.to_owned(),
            ),
            ("DELETE", format!("/jobs/{job_id}"), String::new()),
            (
                "POST",
                "/procs".to_owned(),
                json!({"proc": {"job_id": job_id, "trigger_type": "ADHOC"}}).to_string(),
            ),
        ] {
            let body = (!body.is_empty()).then_some(body.as_str());
            let reply = w.request(method, &path, body, Some(token)).await;
            assert_eq!(
                (reply.status, &reply.body),
                (403, &forbidden),
                "{method} {path}"
            );
        }
    }
    // A command token of another namespace may do nothing here, not even read.
    let reply = w.request("GET", "/jobs", None, Some(&elsewhere)).await;
    assert_eq!((reply.status, &reply.body), (403, &forbidden));

    let proc = json!({"proc": {"job_id": job_id, "trigger_type": "CRON", "crontab": "0 0 1 1 *"}});
    let reply = w
        .request("POST", "/procs", Some(&proc.to_string()), Some(&runner))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let proc_id = id_of(&reply.body["proc"]);
    let reply = w
        .request("GET", &format!("/procs/{proc_id}"), None, Some(&reader))
        .await;
    assert_eq!(reply.status, 200);
    let reply = w
        .request("DELETE", &format!("/procs/{proc_id}"), None, Some(&writer))
        .await;
    assert_eq!((reply.status, &reply.body), (403, &forbidden));
    let reply = w
        .request("DELETE", &format!("/jobs/{job_id}"), None, Some(&runner))
        .await;
    assert_eq!(reply.status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_not_enabled_for_commands_holds_no_job() {
    // The gateway's default: no namespace may hold commands.
    let w = World::start_with(ontime_testkit::gateway_config()).await;
    let (status, body) = w
        .json(
            "POST",
            "/jobs",
            json!({"jobs": [{"name": "a", "definition": "true"},
                            {"name": "b", "definition": "true"}]}),
        )
        .await;
    assert_eq!(
        (status, body),
        (422, refused("job", "definition", "invalid"))
    );
    let (status, body) = w.get("/jobs").await;
    assert_eq!((status, body), (200, json!({"jobs": []})));
    let r = w
        .ontime
        .http
        .get(w.ontime.api(&format!("/namespaces/{NS}/timers")))
        .send()
        .await
        .unwrap();
    let natives: Value = r.json().await.unwrap();
    assert_eq!(natives["items"], json!([]), "{natives}");
}
