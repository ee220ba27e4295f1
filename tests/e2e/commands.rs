//! Command targets, end to end: a command worker runs `/bin/sh -c` in a clean environment,
//! logs the exit code or signal and the output, kills the process group at the timeout or
//! when the timer is deleted (a run cut short by its worker's death is tested with real
//! processes, in `processes.rs`). Only command workers run commands, only in namespaces the
//! operator enabled, and only for tokens with the `command` role.

use std::time::Duration;

use ontime_core::Namespace;
use ontime_testkit::{
    NatsServer, Ontime, Part, Sink, command_worker_config, eventually, gateway_config,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// A gateway that lets namespace `jobs` hold commands, a scheduler, and `workers` (command
/// workers when `commands`).
async fn start(nats: &NatsServer, commands: bool) -> Ontime {
    let config = ontime_gateway::GatewayConfig {
        command_namespaces: vec![Namespace::parse("jobs").unwrap()],
        ..gateway_config()
    };
    let mut o = Ontime::start_with(&nats.url(), 1, 0, config).await;
    if commands {
        o.worker_config = command_worker_config(&["jobs"]);
    }
    o.add(Part::Worker).await;
    o
}

async fn put(o: &Ontime, ns: &str, id: &str, body: Value) -> (StatusCode, Value) {
    let r = o
        .http
        .put(o.api(&format!("/namespaces/{ns}/timers/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

fn command(run: &str) -> Value {
    json!({"schedule": {"after": "10ms"}, "retry": {"max_attempts": 1},
           "target": {"command": {"run": run}}})
}

/// The timer's execution log once it holds `n` entries, newest first.
async fn log(o: &Ontime, id: &str, n: usize) -> Vec<Value> {
    eventually(WAIT, &format!("{n} log entries of {id}"), || async {
        let items = o.executions("jobs", id).await?;
        (items.len() >= n).then_some(items)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_logged_with_its_exit_code_and_output() {
    let nats = NatsServer::start().await;
    let o = start(&nats, true).await;
    let (status, body) = put(&o, "jobs", "hi", command("echo hi; echo to-stderr >&2")).await;
    assert!(status.is_success(), "{body}");
    let entry = &log(&o, "hi", 1).await[0];
    assert_eq!(entry["outcome"], "succeeded", "{entry}");
    assert_eq!(entry["run"]["exit_code"], 0);
    assert_eq!(entry["run"]["stdout"], "hi\n");
    assert_eq!(entry["run"]["stderr"], "to-stderr\n");
    assert!(entry["run"]["ended_at"].as_str().unwrap() >= entry["started_at"].as_str().unwrap());

    put(&o, "jobs", "three", command("exit 3")).await;
    let entry = &log(&o, "three", 1).await[0];
    assert_eq!(
        (
            entry["outcome"].as_str(),
            entry["run"]["exit_code"].as_i64()
        ),
        (Some("failed"), Some(3)),
        "{entry}"
    );
    assert_eq!(entry["error"], "exit code 3");

    // The environment is the operator's and the target's, nothing of the worker's.
    let mut spec = command("echo \"$GREETING:$HOME:$PATH\"");
    spec["target"]["command"]["env"] = json!({"GREETING": "hello"});
    put(&o, "jobs", "env", spec).await;
    let entry = &log(&o, "env", 1).await[0];
    assert_eq!(
        entry["run"]["stdout"],
        format!("hello::{}\n", ontime_worker::DEFAULT_PATH)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_its_timeout_is_killed_with_its_children() {
    let nats = NatsServer::start().await;
    let o = start(&nats, true).await;
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let mut spec = command(&format!(
        "sleep 60 & echo $! > {}; sleep 60",
        pidfile.display()
    ));
    spec["target"]["command"]["timeout"] = json!("1s");
    put(&o, "jobs", "slow", spec).await;
    let entry = &log(&o, "slow", 1).await[0];
    assert_eq!(entry["outcome"], "failed", "{entry}");
    assert_eq!(entry["run"]["signal"], 15, "{entry}");
    assert!(
        entry["error"].as_str().unwrap().contains("timeout"),
        "{entry}"
    );
    let child = std::fs::read_to_string(&pidfile).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.trim()));
    assert!(
        stat.is_err() || stat.unwrap().split(' ').nth(2) == Some("Z"),
        "the command's child outlived the timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_timer_stops_its_run() {
    let nats = NatsServer::start().await;
    let o = start(&nats, true).await;
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    put(
        &o,
        "jobs",
        "long",
        command(&format!("touch {}; sleep 60", started.display())),
    )
    .await;
    eventually(WAIT, "the run started", || async {
        started.exists().then_some(())
    })
    .await;
    let r = o
        .http
        .delete(o.api("/namespaces/jobs/timers/long"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let entry = &log(&o, "long", 1).await[0];
    assert_eq!(entry["run"]["signal"], 15, "{entry}");
    assert!(
        entry["error"].as_str().unwrap().contains("stopped"),
        "{entry}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_command_workers_run_commands() {
    let nats = NatsServer::start().await;
    let mut o = start(&nats, false).await;
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    put(
        &o,
        "jobs",
        "touch",
        command(&format!("touch {}", ran.display())),
    )
    .await;
    // A call due after the command, made by the same (HTTP) worker: by then the worker has
    // had every chance to run the command, had it received it.
    let call =
        json!({"schedule": {"after": "500ms"}, "target": {"http": {"url": sink.url("/after")}}});
    put(&o, "jobs", "call", call).await;
    sink.wait_for("/after", 1, WAIT).await;
    assert!(!ran.exists(), "an HTTP worker ran a command");
    let names = o.names().clone();
    let mut consumer = o
        .topology
        .consumer(&names.run_stream(), names.run_consumer())
        .await
        .unwrap();
    assert_eq!(
        consumer.info().await.unwrap().num_pending,
        1,
        "the run waits for a command worker"
    );

    o.worker_config = command_worker_config(&["jobs"]);
    o.add(Part::Worker).await;
    eventually(WAIT, "the command worker's run", || async {
        ran.exists().then_some(())
    })
    .await;
    // And a command worker makes no call.
    put(
        &o,
        "jobs",
        "call-2",
        json!({"schedule": {"after": "10ms"}, "target": {"http": {"url": sink.url("/2")}}}),
    )
    .await;
    sink.wait_for("/2", 1, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_need_an_enabled_namespace_and_the_command_role() {
    let nats = NatsServer::start().await;
    let operator = "operator-token-0123456789abcdef";
    let config = ontime_gateway::GatewayConfig {
        command_namespaces: vec![Namespace::parse("jobs").unwrap()],
        auth: ontime_gateway::Auth::Tokens {
            admin_token: Some(operator.into()),
        },
        ..gateway_config()
    };
    let o = Ontime::start_with(&nats.url(), 1, 0, config).await;
    let token = |role: &'static str| {
        let o = &o;
        async move {
            let r = o
                .http
                .post(o.api("/tokens"))
                .bearer_auth(operator)
                .json(&json!({"name": role, "role": role, "namespaces": ["jobs", "other"]}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (writer, runner) = (token("write").await, token("command").await);
    let send = |token: String, ns: &'static str, id: &'static str, body: Value| {
        let o = &o;
        async move {
            let r = o
                .http
                .put(o.api(&format!("/namespaces/{ns}/timers/{id}")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(writer.clone(), "jobs", "a", command("true")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{body}"
    );
    let (status, body) = send(runner.clone(), "other", "a", command("true")).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("target.command")),
        "{body}"
    );
    let (status, body) = send(runner.clone(), "jobs", "a", command("true")).await;
    assert!(status.is_success(), "{body}");
    // Changing a command timer, even only its schedule, takes the role too.
    let r = o
        .http
        .patch(o.api("/namespaces/jobs/timers/a"))
        .bearer_auth(&writer)
        .json(&json!({"schedule": {"after": "1h"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A batch item is refused on its own.
    let r = o.http.post(o.api("/namespaces/jobs/timers:batch")).bearer_auth(&writer)
        .json(&json!({"timers": [{"id": "b", "schedule": {"after": "1h"}, "target": {"command": {"run": "true"}}}]}))
        .send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], 403, "{body}");
    // Bad definitions are refused with the field.
    for (target, field) in [
        (json!({"command": {"run": " "}}), "target.command.run"),
        (
            json!({"command": {"run": "x", "dir": "relative"}}),
            "target.command.dir",
        ),
        (
            json!({"command": {"run": "x", "env": {"1BAD": "v"}}}),
            "target.command.env.1BAD",
        ),
        (
            json!({"command": {"run": "x", "timeout": "2d"}}),
            "target.command.timeout",
        ),
        (
            json!({"command": {"run": "x"}, "http": {"url": "http://x.test/"}}),
            "target",
        ),
    ] {
        let (status, body) = send(
            runner.clone(),
            "jobs",
            "bad",
            json!({"schedule": {"after": "1h"}, "target": target}),
        )
        .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_worker_runs_only_the_namespaces_it_was_given() {
    let nats = NatsServer::start().await;
    let config = ontime_gateway::GatewayConfig {
        command_namespaces: vec![
            Namespace::parse("jobs").unwrap(),
            Namespace::parse("elsewhere").unwrap(),
        ],
        ..gateway_config()
    };
    let mut o = Ontime::start_with(&nats.url(), 1, 0, config).await;
    o.worker_config = command_worker_config(&["jobs"]);
    o.add(Part::Worker).await;
    put(&o, "elsewhere", "x", command("true")).await;
    let entry = eventually(WAIT, "the refused run", || async {
        o.executions("elsewhere", "x").await?.first().cloned()
    })
    .await;
    assert_eq!(entry["outcome"], "failed");
    assert!(
        entry["error"].as_str().unwrap().contains("not enabled"),
        "{entry}"
    );
}
