//! `ontime timers|topics|schedules`, the binary against a running gateway: tables by
//! default, the API's JSON with `--json`, and exit codes scripts can rely on (0 done, 1
//! unavailable, 3 not found, 4 refused, 5 invalid).

use std::time::Duration;

use ontime_testkit::{NatsServer, Ontime, Sink, eventually, gateway_config};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_ontime");

/// `ontime <args> --url <gateway>`: exit code, stdout, stderr.
async fn ontime(o: &Ontime, args: &[&str], token: Option<&str>) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .args(["--url", &o.url])
        .env_remove("ONTIME_TOKEN");
    if let Some(token) = token {
        cmd.args(["--token", token]);
    }
    let out = cmd.output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_are_managed_from_the_command_line() {
    let nats = NatsServer::start().await;
    let o = Ontime::start(&nats.url(), 1, 1).await;
    let sink = Sink::start().await;
    let spec = json!({"schedule": {"every": "1h"}, "target": {"http": {"url": sink.url("/cli")}}});

    let (code, out, err) = ontime(
        &o,
        &[
            "timers",
            "create",
            "ops",
            "nightly",
            "--spec",
            &spec.to_string(),
            "--json",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["id"], "nightly");

    let (code, out, _) = ontime(&o, &["timers", "list", "ops"], None).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("nightly") && out.contains("every 1h") && out.contains("STATUS"),
        "{out}"
    );
    let (code, out, _) = ontime(&o, &["timers", "get", "ops", "nightly"], None).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("ops/nightly") && out.contains(&sink.url("/cli")),
        "{out}"
    );

    for (action, status) in [("pause", "paused"), ("resume", "scheduled")] {
        let (code, out, err) =
            ontime(&o, &["timers", action, "ops", "nightly", "--json"], None).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap()["status"],
            status
        );
    }
    let (code, _, err) = ontime(&o, &["timers", "trigger", "ops", "nightly"], None).await;
    assert_eq!(code, 0, "{err}");
    sink.wait_for("/cli", 1, Duration::from_secs(30)).await;
    let out = eventually(Duration::from_secs(30), "the execution listed", || async {
        let (_, out, _) = ontime(&o, &["timers", "executions", "ops", "nightly"], None).await;
        out.contains("succeeded").then_some(out)
    })
    .await;
    assert!(out.contains("OUTCOME") && out.contains("200"), "{out}");

    let (code, out, err) = ontime(
        &o,
        &[
            "timers",
            "update",
            "ops",
            "nightly",
            "--patch",
            r#"{"schedule": {"every": "2h"}}"#,
            "--json",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["schedule"]["every"],
        "2h"
    );
    let (code, _, _) = ontime(&o, &["timers", "delete", "ops", "nightly"], None).await;
    assert_eq!(code, 0);

    // Exit codes.
    let (code, _, err) = ontime(&o, &["timers", "get", "ops", "nobody"], None).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("404"), "{err}");
    let (code, _, err) = ontime(
        &o,
        &[
            "timers",
            "create",
            "ops",
            "bad",
            "--spec",
            r#"{"schedule": {"every": "soon"}}"#,
        ],
        None,
    )
    .await;
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("schedule.every") || err.contains("target"),
        "{err}"
    );
    let (code, _, _) = ontime(
        &o,
        &["timers", "create", "ops", "bad", "--spec", "not json"],
        None,
    )
    .await;
    assert_ne!(code, 0);
    let out = tokio::process::Command::new(BIN)
        .args(["timers", "list", "ops", "--url", "http://127.0.0.1:1"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "an unreachable gateway");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_schedules_and_tokens_from_the_command_line() {
    let nats = NatsServer::start().await;
    let operator = "operator-token-0123456789abcdef";
    let config = ontime_gateway::GatewayConfig {
        auth: ontime_gateway::Auth::Tokens {
            admin_token: Some(operator.into()),
        },
        ..gateway_config()
    };
    let o = Ontime::start_with(&nats.url(), 1, 0, config).await;

    let (code, _, err) = ontime(&o, &["topics", "list", "ops"], None).await;
    assert_eq!(code, 4, "no token: {err}");
    let (code, _, err) = ontime(
        &o,
        &[
            "topics",
            "put",
            "ops",
            "orders",
            "--spec",
            r#"{"description": "new orders"}"#,
        ],
        Some(operator),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let sub = r#"{"target": {"http": {"url": "http://127.0.0.1:9/hook"}}}"#;
    let (code, _, err) = ontime(
        &o,
        &[
            "topics",
            "subscribe",
            "ops",
            "orders",
            "billing",
            "--spec",
            sub,
        ],
        Some(operator),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = ontime(&o, &["topics", "list", "ops"], Some(operator)).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("orders") && out.contains("new orders"),
        "{out}"
    );
    let (_, out, _) = ontime(
        &o,
        &["topics", "subscribers", "ops", "orders"],
        Some(operator),
    )
    .await;
    assert!(
        out.contains("billing") && out.contains("http://127.0.0.1:9/hook"),
        "{out}"
    );

    let (code, out, err) = ontime(
        &o,
        &[
            "schedules",
            "preview",
            "--cron",
            "0 0 9 * * MON-FRI",
            "--timezone",
            "Europe/Paris",
            "--count",
            "3",
        ],
        Some(operator),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.matches("T0").count() + out.matches("T1").count(),
        3,
        "{out}"
    );
    let (code, out, _) = ontime(
        &o,
        &[
            "schedules",
            "preview",
            "--every",
            "1d",
            "--count",
            "2",
            "--json",
        ],
        Some(operator),
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["occurrences"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
