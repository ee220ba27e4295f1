//! The callbacks' target: records every call (arrival time, `webhook-id`, `ontime-attempt`,
//! the status it answered) and fails some on purpose.
//!
//! Paths are `/cb/<timer id>` or `/cb/<timer id>/f<k>`: the latter answers 500 to the first
//! `k` calls of each occurrence (each `webhook-id`), then 200, so those timers exercise
//! retries. Anything else (the start-up probe) gets 200 and is not recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Utc};

/// One call the sink received.
#[derive(Debug, Clone)]
pub struct Call {
    pub timer: String,
    pub webhook_id: Option<String>,
    pub attempt: Option<u32>,
    pub at: DateTime<Utc>,
    /// What the sink answered.
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Calls so far per `webhook-id` (or per path, for a call without one).
    per_occurrence: HashMap<String, u32>,
}

#[derive(Clone)]
pub struct Sink {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { base, inner })
    }

    /// The URL a timer calls; `fail_first` > 0 makes the first calls of each occurrence fail.
    pub fn url(&self, timer: &str, fail_first: u32) -> String {
        if fail_first > 0 {
            format!("{}/cb/{timer}/f{fail_first}", self.base)
        } else {
            format!("{}/cb/{timer}", self.base)
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn record(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
) -> (StatusCode, [(&'static str, &'static str); 1], &'static str) {
    let at = Utc::now();
    let ok = (
        StatusCode::OK,
        [("content-type", "application/json")],
        r#"{"ok": true}"#,
    );
    let mut parts = uri.path().trim_start_matches('/').split('/');
    let (Some("cb"), Some(timer)) = (parts.next(), parts.next()) else {
        return ok;
    };
    let fail_first: u32 = parts
        .next()
        .and_then(|p| p.strip_prefix('f'))
        .and_then(|k| k.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let webhook_id = header("webhook-id").map(str::to_owned);
    let attempt = header("ontime-attempt").and_then(|a| a.parse().ok());
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    let key = webhook_id.clone().unwrap_or_else(|| uri.path().to_owned());
    let seen = inner.per_occurrence.entry(key).or_default();
    *seen += 1;
    let status = if *seen <= fail_first { 500 } else { 200 };
    inner.calls.push(Call {
        timer: timer.to_owned(),
        webhook_id,
        attempt,
        at,
        status,
    });
    if status == 500 {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/json")],
            r#"{"error": "failing on purpose (ontime-chaos)"}"#,
        )
    } else {
        ok
    }
}
