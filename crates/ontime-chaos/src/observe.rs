//! What a run watches besides the sink's calls: a progress line every 10 s, a problem
//! timer's state as ontime stores it, and the waits the processes' logs say were given up.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use crate::util::log;
use crate::{check, load, sink};

/// What the processes' logs say of waits that did not end by themselves: reconnections
/// forced after a silence of acks, batches handed back past their time limit, reports given up
/// (their fire delivered again). Each should be rare; a count that is not is where to look.
pub fn given_up(logs: &std::path::Path) -> Vec<(&'static str, usize)> {
    const SIGNS: [(&str, &str); 3] = [
        (
            "forced reconnections",
            "though the connection is up; reconnecting",
        ),
        ("batches handed back", "the batch took longer than"),
        ("reports given up", "could not be reported"),
    ];
    let logs: Vec<String> = std::fs::read_dir(logs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .collect();
    SIGNS
        .iter()
        .map(|(what, sign)| {
            let n = logs.iter().map(|log| log.matches(sign).count()).sum();
            (*what, n)
        })
        .collect()
}

/// A problem timer as ontime stores it, summarised: `(status, one line)`. The status is
/// `?` when the timer could not be read.
pub async fn stored_state(gateways: &load::Gateways, id: &str) -> (String, String) {
    let get = |suffix: &'static str| async move {
        for base in gateways.bases() {
            let url = format!(
                "{base}/v1/namespaces/{}/timers/{id}{suffix}",
                load::NAMESPACE
            );
            if let Ok(response) = gateways.http().get(url).send().await {
                return response.json::<serde_json::Value>().await.ok();
            }
        }
        None
    };
    let (Some(timer), executions) = (get("").await, get("/executions").await) else {
        return ("?".into(), "unreadable".into());
    };
    let field = |v: &serde_json::Value, name: &str| match &v[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    };
    let short = |t: String| t.get(11..23).map(str::to_owned).unwrap_or(t);
    let status = field(&timer, "status");
    let mut line = format!(
        "status {status}, runs {}, successes {}, in_flight {}, next_fire_at {}, updated {}, revision {}; executions (newest first):",
        field(&timer, "runs"),
        field(&timer, "successes"),
        field(&timer, "in_flight"),
        field(&timer, "next_fire_at"),
        short(field(&timer, "updated_at")),
        field(&timer, "revision"),
    );
    let items = executions
        .as_ref()
        .and_then(|e| e["items"].as_array().cloned())
        .unwrap_or_default();
    if items.is_empty() {
        line.push_str(" none");
    }
    for e in &items {
        line.push_str(&format!(
            " [{} #{} due {} started {} {}{}]",
            field(e, "delivery_id"),
            field(e, "attempt"),
            short(field(e, "due_at")),
            short(field(e, "started_at")),
            field(e, "outcome"),
            e["error"]
                .as_str()
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
        ));
    }
    (status, line)
}

/// A line every 10 s: timers created and acknowledged, calls, occurrences still missing.
pub async fn progress(ledger: Arc<load::Ledger>, sink: sink::Sink, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        let timers = ledger.snapshot();
        let acked = timers.iter().filter(|t| t.put.acked_at().is_some()).count();
        let unacked = timers
            .iter()
            .filter(|t| matches!(t.put, load::Answer::Unacked { .. }))
            .count();
        let calls = sink.calls();
        let (missing, _) = check::pending(&timers, &calls, None);
        // Occurrences due more than 5 s ago and not delivered: a hint of trouble.
        let (overdue, _) =
            check::pending(&timers, &calls, Some(Utc::now() - TimeDelta::seconds(5)));
        log(format!(
            "progress: {} created, {acked} acknowledged, {unacked} not; {} calls; {missing} expected occurrence(s) not delivered yet, {overdue} of them due over 5 s ago",
            timers.len(),
            calls.len(),
        ));
    }
}
