//! ontime as separate processes, as deployed: `ontime dev` restarted on its data directory,
//! and gateway / schedulers / workers as child processes killed with SIGKILL mid-run.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use ontime_testkit::{NatsServer, Sink, eventually, free_port, nats_server_bin, unique_prefix};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

const BIN: &str = env!("CARGO_BIN_EXE_ontime");

fn ontime(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("ONTIME_LOG", "warn")
        // The sinks are on loopback; the parts share a key; these tests send no tokens.
        .env("ONTIME_ALLOW_TARGETS", "loopback")
        .env(
            "ONTIME_SECRET_KEY",
            "cHJvY2Vzcy10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGU=",
        )
        .env("ONTIME_AUTH", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd
}

async fn ready(http: &reqwest::Client, base: &str) {
    eventually(
        Duration::from_secs(60),
        &format!("{base}/ready"),
        || async {
            let r = http.get(format!("{base}/ready")).send().await.ok()?;
            r.status().is_success().then_some(())
        },
    )
    .await;
}

fn sigterm(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(child.id().expect("running") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

async fn create(http: &reqwest::Client, base: &str, id: &str, url: &str, in_ms: i64) {
    let body = json!({"schedule": {"at": Utc::now() + chrono::Duration::milliseconds(in_ms)}, "target": {"http": {"url": url}}});
    let r = http
        .put(format!("{base}/v1/namespaces/p/timers/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// A nats-server, a sink, and the names the separate ontime processes of one test share.
struct Deployment {
    nats: NatsServer,
    sink: Sink,
    http: reqwest::Client,
    prefix: String,
    /// The gateway's listening address, and its URL.
    addr: String,
    base: String,
}

impl Deployment {
    async fn start() -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        Self {
            nats: NatsServer::start().await,
            sink: Sink::start().await,
            http: reqwest::Client::new(),
            prefix: unique_prefix(),
            base: format!("http://{addr}"),
            addr,
        }
    }

    /// `ontime <name>` on this test's nats-server, under its prefix.
    fn part(&self, name: &str) -> Command {
        ontime(&[
            name,
            "--nats-url",
            &self.nats.url(),
            "--prefix",
            &self.prefix,
        ])
    }

    /// `ontime <name>`, started.
    fn spawn(&self, name: &str) -> Child {
        self.part(name).spawn().unwrap()
    }

    fn gateway(&self) -> Child {
        let mut gateway = self.part("gateway");
        gateway.args(["--http", &self.addr]).spawn().unwrap()
    }
}

/// Waits until every `<path>/<i>` (i < n) has been called, and checks that any duplicate call
/// is recognisable: all the calls of one timer carry the same `webhook-id`.
async fn each_called_once(sink: &Sink, path: &str, n: usize) {
    for i in 0..n {
        sink.wait_for(&format!("{path}/{i}"), 1, Duration::from_secs(60))
            .await;
    }
    for i in 0..n {
        let ids: std::collections::HashSet<String> = sink
            .calls(&format!("{path}/{i}"))
            .iter()
            .map(|c| c.header("webhook-id").unwrap().to_owned())
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "{path}/{i}: duplicates must share one webhook-id"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_restarts_on_its_data_dir_without_losing_timers_and_stops_its_server() {
    let data = tempfile::tempdir().unwrap();
    let sink = Sink::start().await;
    let http = reqwest::Client::new();
    let (http_port, nats_port) = (free_port(), free_port());
    let bin = nats_server_bin();
    let args = |data: &Path| {
        vec![
            "dev".to_owned(),
            "--http".into(),
            format!("127.0.0.1:{http_port}"),
            "--nats-port".into(),
            nats_port.to_string(),
            "--data-dir".into(),
            data.display().to_string(),
            "--nats-server-bin".into(),
            bin.display().to_string(),
        ]
    };
    let base = format!("http://127.0.0.1:{http_port}");
    let argv = args(data.path());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();

    let mut dev = ontime(&argv).spawn().unwrap();
    ready(&http, &base).await;
    create(&http, &base, "survivor", &sink.url("/survivor"), 6_000).await;
    sigterm(&dev);
    let status = tokio::time::timeout(Duration::from_secs(30), dev.wait())
        .await
        .expect("ontime dev stops")
        .unwrap();
    assert!(status.success(), "ontime dev exited with {status}");
    assert!(
        port_is_free(nats_port),
        "the embedded nats-server was left running"
    );
    assert!(sink.calls("/survivor").is_empty());

    let mut dev = ontime(&argv).spawn().unwrap();
    ready(&http, &base).await;
    let calls = sink.wait_for("/survivor", 1, Duration::from_secs(60)).await;
    assert_eq!(calls.len(), 1);
    sigterm(&dev);
    tokio::time::timeout(Duration::from_secs(30), dev.wait())
        .await
        .expect("ontime dev stops")
        .unwrap();
    assert!(port_is_free(nats_port));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_survive_sigkill_of_schedulers_and_workers() {
    let d = Deployment::start().await;
    let (sink, http, base) = (&d.sink, &d.http, &d.base);
    let _gateway = d.gateway();
    let mut schedulers = vec![d.spawn("scheduler"), d.spawn("scheduler")];
    let mut workers = vec![d.spawn("worker"), d.spawn("worker")];
    ready(http, base).await;

    let n = 30;
    for i in 0..n {
        create(
            http,
            base,
            &format!("p{i}"),
            &sink.url(&format!("/p/{i}")),
            1_000 + 150 * i,
        )
        .await;
    }
    // Mid-run: one scheduler and one worker die without warning.
    eventually(Duration::from_secs(30), "the first calls", || async {
        (!sink.all_calls().is_empty()).then_some(())
    })
    .await;
    schedulers[0].kill().await.unwrap();
    workers[0].kill().await.unwrap();
    each_called_once(sink, "/p", n as usize).await;
    let r: Value = http
        .get(format!("{base}/v1/namespaces/p/timers/p0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["id"], "p0");
    drop(schedulers);
    drop(workers);
}

/// Batches of installation `prefix` delivered to a scheduler and not yet acknowledged.
async fn batches_in_hand(client: &async_nats::Client, prefix: &str) -> u64 {
    let names = ontime_nats::Names::new(prefix).unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let Ok(stream) = js.get_stream(names.cmd_stream()).await else {
        return 0;
    };
    match stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(names.batch_consumer())
        .await
    {
        Ok(mut consumer) => consumer
            .info()
            .await
            .map_or(0, |i| i.num_ack_pending as u64),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_killed_in_the_middle_of_a_batch_loses_none_of_it() {
    let d = Deployment::start().await;
    let (sink, http, base) = (&d.sink, &d.http, &d.base);
    let _gateway = d.gateway();
    let mut scheduler = d.spawn("scheduler");
    let _worker = d.spawn("worker");
    ready(http, base).await;
    let client = ontime_nats::connect(&d.nats.url(), "test").await.unwrap();

    // One request, one batch message.
    let n = 1000;
    let due = Utc::now() + chrono::Duration::seconds(4);
    let timers: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": format!("b{i}"), "schedule": {"at": due},
            "target": {"http": {"url": sink.url(&format!("/b/{i}"))}}})
        })
        .collect();
    let request = http
        .post(format!("{base}/v1/namespaces/p/timers:batch"))
        .json(&json!({"timers": timers}))
        .send();
    let answer = tokio::spawn(request);
    // Killed while it holds the batch: it may have written none of the timers, all of them
    // (they are written together), or all and armed some.
    eventually(
        Duration::from_secs(30),
        "the batch in the scheduler's hands",
        || async { (batches_in_hand(&client, &d.prefix).await > 0).then_some(()) },
    )
    .await;
    scheduler.kill().await.unwrap();
    let mut replacement = d.spawn("scheduler");

    let answer: Value = answer.await.unwrap().unwrap().json().await.unwrap();
    let accepted = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"].as_u64().is_some_and(|s| s < 300))
        .count();
    assert_eq!(accepted, n as usize, "every item acknowledged: {answer}");
    // The batch comes back to the new scheduler after the schedulers' ack wait (10 s).
    each_called_once(sink, "/b", n as usize).await;
    replacement.kill().await.unwrap();
}

/// A worker killed while it fans a topic's occurrence out, and while the deliveries are
/// being made, loses no subscriber's call: what it held is delivered again (by the other
/// worker, once its messages' acknowledgement time runs out), under the same webhook-id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_fan_out_loses_no_subscribers_call() {
    let d = Deployment::start().await;
    let (sink, http, base) = (&d.sink, &d.http, &d.base);
    let _gateway = d.gateway();
    let _scheduler = d.spawn("scheduler");
    let mut workers = vec![d.spawn("worker"), d.spawn("worker")];
    ready(http, base).await;
    let put = |path: String, body: Value| async move {
        let r = http
            .put(format!("{base}/v1{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    };
    put("/namespaces/p/topics/t".into(), json!({})).await;
    let n = 24;
    for i in 0..n {
        // Slow answers: deliveries are under way on both workers when one dies.
        sink.script_answer(&format!("/f/{i}"), 200, "", Duration::from_millis(400));
        put(
            format!("/namespaces/p/topics/t/subscribers/s{i}"),
            json!({"target": {"http": {"url": sink.url(&format!("/f/{i}"))}}}),
        )
        .await;
    }
    let at = Utc::now() + chrono::Duration::milliseconds(1_500);
    put(
        "/namespaces/p/timers/fan".into(),
        json!({"schedule": {"at": at}, "target": {"topic": {"name": "t", "body": {"x": 1}}}}),
    )
    .await;
    eventually(Duration::from_secs(30), "the first deliveries", || async {
        (!sink.all_calls().is_empty()).then_some(())
    })
    .await;
    workers[0].kill().await.unwrap();
    each_called_once(sink, "/f", n).await;
    let done = eventually(Duration::from_secs(90), "the occurrence to end", || async {
        let r: Value = http
            .get(format!("{base}/v1/namespaces/p/timers/fan"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (r["status"] == "succeeded").then_some(r)
    })
    .await;
    assert_eq!(done["deliveries"], n as u64, "{done}");
    drop(workers);
}

/// `ontime dev` reachable from other machines asks for tokens like any gateway: on its first
/// start it makes an admin token and prints it once, never again; the key it keeps in its
/// data directory opens, after a restart, the secrets it sealed before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_reachable_from_elsewhere_asks_for_tokens_and_keeps_its_key() {
    let data = tempfile::tempdir().unwrap();
    let sink = Sink::start().await;
    let http = reqwest::Client::new();
    let (http_port, nats_port) = (free_port(), free_port());
    let bin = nats_server_bin();
    let argv = [
        "dev".to_owned(),
        "--http".into(),
        format!("0.0.0.0:{http_port}"),
        "--nats-port".into(),
        nats_port.to_string(),
        "--data-dir".into(),
        data.path().display().to_string(),
        "--nats-server-bin".into(),
        bin.display().to_string(),
    ];
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let base = format!("http://127.0.0.1:{http_port}");
    let start = || {
        let mut cmd = ontime(&argv);
        cmd.env("ONTIME_AUTH", "auto")
            .env("ONTIME_LOG", "info")
            .env_remove("ONTIME_SECRET_KEY")
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        (child, lines)
    };
    // The lines up to ontime dev's "ready", and the token among them, if one was printed.
    async fn until_ready(lines: &mut Lines<BufReader<ChildStderr>>) -> Option<String> {
        let mut token = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.trim().starts_with("ot_") {
                token = Some(line.trim().to_owned());
            }
            if line.contains("ontime dev ready") {
                return token;
            }
        }
        panic!("ontime dev stopped before it was ready");
    }

    let (mut dev, mut lines) = start();
    let token = until_ready(&mut lines)
        .await
        .expect("the first admin token is printed");
    let drained = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    ready(&http, &base).await;
    let timers = format!("{base}/v1/namespaces/p/timers");
    assert_eq!(http.get(&timers).send().await.unwrap().status(), 401);
    let body = json!({"schedule": {"at": Utc::now() + chrono::Duration::seconds(8)},
        "target": {"http": {"url": sink.url("/kept"), "secret_headers": {"X-Key": "kept-secret"}}}});
    let r = http
        .put(format!("{timers}/kept"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    sigterm(&dev);
    tokio::time::timeout(Duration::from_secs(30), dev.wait())
        .await
        .expect("ontime dev stops")
        .unwrap();
    drained.await.unwrap();

    let (dev, mut lines) = start();
    assert_eq!(
        until_ready(&mut lines).await,
        None,
        "a second admin token was printed"
    );
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    ready(&http, &base).await;
    let r = http.get(&timers).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200, "the first token still works");
    let calls = sink.wait_for("/kept", 1, Duration::from_secs(60)).await;
    assert_eq!(calls[0].header("x-key"), Some("kept-secret"));
    sigterm(&dev);
}

/// A command worker killed mid-run: the run's fire comes back after its ack wait and another
/// command worker runs it again, and its log entry says the run before was interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_run_cut_short_by_its_workers_death_is_run_again_and_logged_so() {
    let d = Deployment::start().await;
    let (http, base) = (&d.http, &d.base);
    let with_commands = |mut cmd: Command| {
        cmd.env("ONTIME_COMMAND_NAMESPACES", "jobs");
        cmd
    };
    let mut gateway = with_commands(d.part("gateway"));
    let _gateway = gateway.args(["--http", &d.addr]).spawn().unwrap();
    let _scheduler = d.spawn("scheduler");
    let command_worker = || {
        let mut cmd = with_commands(d.part("worker"));
        cmd.arg("--commands").spawn().unwrap()
    };
    let mut first = command_worker();
    ready(http, base).await;

    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let body = json!({"schedule": {"after": "10ms"}, "retry": {"max_attempts": 1},
        "target": {"command": {"run": format!("echo run >> {}; sleep 3", runs.display())}}});
    let r = http
        .put(format!("{base}/v1/namespaces/jobs/timers/crash"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    eventually(Duration::from_secs(30), "the first run", || async {
        runs.exists().then_some(())
    })
    .await;
    first.kill().await.unwrap();
    let _second = command_worker();

    // Its fire comes back once the ack wait (30 s) has passed.
    let entry = eventually(Duration::from_secs(120), "the run again", || async {
        let r = http
            .get(format!("{base}/v1/namespaces/jobs/timers/crash/executions"))
            .send()
            .await
            .ok()?;
        r.json::<Value>().await.ok()?["items"]
            .as_array()?
            .first()
            .cloned()
    })
    .await;
    assert_eq!(entry["outcome"], "succeeded", "{entry}");
    assert_eq!(entry["attempt"], 2, "{entry}");
    assert!(
        entry["note"].as_str().unwrap().contains("interrupted"),
        "{entry}"
    );
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "run\nrun\n");
}

/// `/metrics` of each part run alone, parsed as Prometheus parses the text format: calls by
/// outcome and status class, lateness and latency histograms, in-flight calls, pending
/// wake-ups and calls, command apply latency and NATS connections, and no label that names a
/// timer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_part_serves_its_metrics_in_the_prometheus_format() {
    let d = Deployment::start().await;
    let (sink, http, base) = (&d.sink, &d.http, &d.base);
    let _gateway = d.gateway();
    let (scheduler_port, worker_port) = (free_port(), free_port());
    let with_metrics = |name: &str, port: u16| {
        let mut cmd = d.part(name);
        cmd.args(["--metrics-http", &format!("127.0.0.1:{port}")]);
        cmd.spawn().unwrap()
    };
    let _scheduler = with_metrics("scheduler", scheduler_port);
    let _worker = with_metrics("worker", worker_port);
    ready(http, base).await;
    // Under a flow limit, so that its waits are measured too.
    let limit = http
        .put(format!("{base}/v1/namespaces/p/limits"))
        .json(&json!({"rate": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(limit.status(), 201);
    create(http, base, "metered-timer", &sink.url("/m"), 100).await;
    sink.wait_for("/m", 1, Duration::from_secs(60)).await;
    // And one that fails for good (a final 4xx): a dead letter.
    sink.script("/refused", &[404]);
    create(http, base, "refused-timer", &sink.url("/refused"), 100).await;
    sink.wait_for("/refused", 1, Duration::from_secs(60)).await;
    // And one pending for an hour: a wake-up stored.
    create(http, base, "pending-timer", &sink.url("/later"), 3_600_000).await;

    // Each attempt's log entry is written after its metrics: once both are logged, both
    // are counted.
    for id in ["metered-timer", "refused-timer"] {
        let url = format!("{base}/v1/namespaces/p/timers/{id}/executions");
        eventually(Duration::from_secs(30), &url, || async {
            let page: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
            (!page["items"].as_array()?.is_empty()).then_some(())
        })
        .await;
    }

    let scrape = |url: String| async move {
        eventually(Duration::from_secs(30), &url, || async {
            let response = reqwest::get(&url).await.ok()?;
            let ok = response.status() == 200;
            let content_type = response
                .headers()
                .get("content-type")?
                .to_str()
                .ok()?
                .to_owned();
            let text = response.text().await.ok()?;
            (ok && content_type.starts_with("text/plain")).then_some(text)
        })
        .await
    };
    let parse = |text: &str| {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        prometheus_parse::Scrape::parse(lines).expect("the text format parses")
    };
    let value = |scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) => v,
                prometheus_parse::Value::Histogram(ref buckets) => {
                    buckets.last().map_or(0.0, |b| b.count)
                }
                _ => 0.0,
            })
            .sum::<f64>()
    };

    let text = scrape(format!("http://127.0.0.1:{worker_port}/metrics")).await;
    assert!(
        text.contains("# HELP ontime_worker_attempts_total "),
        "{text}"
    );
    let worker = parse(&text);
    let succeeded = [("outcome", "succeeded"), ("status_class", "2xx")];
    assert!(value(&worker, "ontime_worker_attempts_total", &succeeded) >= 1.0);
    assert!(value(&worker, "ontime_worker_call_latency_seconds", &[]) >= 1.0);
    assert!(value(&worker, "ontime_worker_lateness_seconds", &[]) >= 1.0);
    assert!(value(&worker, "ontime_worker_flow_wait_seconds", &[]) >= 1.0);
    assert!(
        worker
            .samples
            .iter()
            .any(|s| s.metric == "ontime_worker_in_flight")
    );
    assert!(value(&worker, "ontime_nats_connects_total", &[]) >= 1.0);
    let failed = [("outcome", "failed"), ("status_class", "4xx")];
    assert!(value(&worker, "ontime_worker_attempts_total", &failed) >= 1.0);
    assert!(value(&worker, "ontime_worker_dead_letters_total", &[]) >= 1.0);
    // The backlog is read every few seconds.
    let scheduler_url = format!("http://127.0.0.1:{scheduler_port}/metrics");
    let scheduler = eventually(Duration::from_secs(30), "a wake-up pending", || async {
        let scheduler = parse(&scrape(scheduler_url.clone()).await);
        (value(&scheduler, "ontime_scheduler_wake_ups_pending", &[]) >= 1.0).then_some(scheduler)
    })
    .await;
    assert!(value(&scheduler, "ontime_scheduler_command_apply_seconds", &[]) >= 1.0);
    assert!(
        scheduler
            .samples
            .iter()
            .any(|s| s.metric == "ontime_scheduler_calls_pending")
    );
    let gateway = parse(&scrape(format!("{base}/metrics")).await);
    assert!(value(&gateway, "ontime_nats_connects_total", &[]) >= 1.0);
    // Every metric the Grafana dashboard plots is one the parts export (unsettled messages
    // only once there is one).
    let exported: std::collections::HashSet<&str> = [&worker, &scheduler, &gateway]
        .iter()
        .flat_map(|s| s.samples.iter().map(|sample| sample.metric.as_str()))
        .collect();
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/ontime.json"
    ))
    .unwrap();
    let dashboard: Value = serde_json::from_str(&dashboard).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    for target in panels.iter().flat_map(|p| p["targets"].as_array().unwrap()) {
        let expr = target["expr"].as_str().unwrap();
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|t| t.starts_with("ontime_"))
        {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            assert!(
                exported.contains(family) || family == "ontime_dead_letters_total",
                "the dashboard plots {family}, which no part exports"
            );
        }
    }
    for scrape in [&worker, &scheduler, &gateway] {
        for sample in &scrape.samples {
            assert!(
                !sample.labels.values().any(|v| v.contains("-timer")),
                "a label names a timer: {sample:?}"
            );
        }
    }
}

/// With an OTLP endpoint configured, the gateway exports the span of a request and the
/// worker the span of each call it caused, as the request's child, in the trace the request
/// came with; the call's `traceparent` names the worker's span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_go_from_the_request_to_each_call_over_otlp() {
    let d = Deployment::start().await;
    let (sink, http, base) = (&d.sink, &d.http, &d.base);
    let collector = Sink::start().await;
    let traced = |name: &str| {
        let mut cmd = d.part(name);
        cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.base)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100");
        if name == "gateway" {
            cmd.args(["--http", &d.addr]);
        }
        cmd.spawn().unwrap()
    };
    let _parts = [traced("gateway"), traced("scheduler"), traced("worker")];
    ready(http, base).await;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CLIENT_SPAN: &str = "00f067aa0ba902b7";
    let body =
        json!({"schedule": {"after": "200ms"}, "target": {"http": {"url": sink.url("/traced")}}});
    let r = http
        .put(format!("{base}/v1/namespaces/p/timers/traced"))
        .header("traceparent", format!("00-{TRACE}-{CLIENT_SPAN}-01"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let call = &sink.wait_for("/traced", 1, Duration::from_secs(60)).await[0];
    let header = call.header("traceparent").unwrap().to_owned();
    let call_span = header.split('-').nth(2).unwrap().to_owned();
    assert!(header.starts_with(&format!("00-{TRACE}-")), "{header}");

    // The exported spans of the trace, by span id: (parent, name).
    let spans = eventually(Duration::from_secs(30), "both spans exported", || async {
        let mut spans = std::collections::HashMap::new();
        for export in collector.calls("/v1/traces") {
            let export: Value = serde_json::from_slice(&export.body).ok()?;
            for resource in export["resourceSpans"].as_array()? {
                for scope in resource["scopeSpans"].as_array()? {
                    for span in scope["spans"].as_array()? {
                        if span["traceId"] == TRACE {
                            spans.insert(
                                span["spanId"].as_str()?.to_owned(),
                                (
                                    span["parentSpanId"].as_str()?.to_owned(),
                                    span["name"].as_str()?.to_owned(),
                                ),
                            );
                        }
                    }
                }
            }
        }
        (spans.len() >= 2 && spans.contains_key(&call_span)).then_some(spans)
    })
    .await;
    let (gateway_span, (_, name)) = spans
        .iter()
        .find(|(_, (parent, _))| parent == CLIENT_SPAN)
        .expect("the request's span, a child of the client's");
    assert_eq!(name, "PUT /v1/namespaces/p/timers/traced");
    let (call_parent, call_name) = &spans[&call_span];
    assert_eq!(
        call_parent, gateway_span,
        "the call's span is the request's child"
    );
    assert_eq!(call_name, "POST 127.0.0.1");
}
