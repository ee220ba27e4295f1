//! The HTTP target: records the arrival time of every call (taken first thing, with
//! `Utc::now()`), its `webhook-id` and the due time and index it carries in its JSON body
//! (`{"due": "<RFC3339>", "i": 123}`), and answers 200 at once. It runs on a runtime of its
//! own so that the bench's own work (creating timers, the raw consumer) never delays it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One call the sink received.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: DateTime<Utc>,
    pub due: DateTime<Utc>,
    pub i: u64,
    pub webhook_id: String,
}

#[derive(Default)]
struct Recorded {
    arrivals: Mutex<Vec<Arrival>>,
    count: AtomicUsize,
    /// Calls whose body was not `{"due", "i"}`.
    malformed: AtomicUsize,
}

#[derive(Deserialize)]
struct Body {
    due: DateTime<Utc>,
    i: u64,
}

pub struct Sink {
    /// The URL to call.
    pub url: String,
    recorded: Arc<Recorded>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Sink {
    pub fn start() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sink")
            .enable_all()
            .build()?;
        let recorded = Arc::new(Recorded::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/call", listener.local_addr()?);
        let app = axum::Router::new()
            .fallback(record)
            .with_state(recorded.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("the sink's socket");
            axum::serve(listener, app).await
        });
        Ok(Self {
            url,
            recorded,
            runtime: Some(runtime),
        })
    }

    /// Calls received so far (duplicates included).
    pub fn count(&self) -> usize {
        self.recorded.count.load(Ordering::Relaxed)
    }

    pub fn malformed(&self) -> usize {
        self.recorded.malformed.load(Ordering::Relaxed)
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.recorded.arrivals.lock().expect("not poisoned").clone()
    }

    /// Waits until every timer in `expected` has been called, or until no call has come for
    /// `idle` after `last_due` (a slow but steady delivery is waited for); then one more second
    /// for late duplicates. Returns every call received.
    pub async fn collect(
        &self,
        expected: &HashSet<u64>,
        last_due: DateTime<Utc>,
        idle: Duration,
    ) -> Vec<Arrival> {
        self.collect_until(expected.len(), last_due, idle, |arrivals| {
            let called: HashSet<u64> = arrivals.iter().map(|a| a.i).collect();
            expected.is_subset(&called)
        })
        .await
    }

    /// [`Self::collect`], done when `complete` says so of the calls received (asked once at
    /// least `at_least` have come).
    pub async fn collect_until(
        &self,
        at_least: usize,
        last_due: DateTime<Utc>,
        idle: Duration,
        complete: impl Fn(&[Arrival]) -> bool,
    ) -> Vec<Arrival> {
        let mut seen = self.count();
        let mut changed = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let count = self.count();
            if count != seen {
                (seen, changed) = (count, Instant::now());
            }
            if count >= at_least && complete(&self.arrivals()) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                return self.arrivals();
            }
            if Utc::now() > last_due + idle && changed.elapsed() > idle {
                return self.arrivals();
            }
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn record(
    State(recorded): State<Arc<Recorded>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Utc::now();
    let Ok(Body { due, i }) = serde_json::from_slice::<Body>(&body) else {
        recorded.malformed.fetch_add(1, Ordering::Relaxed);
        return StatusCode::OK;
    };
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    recorded
        .arrivals
        .lock()
        .expect("not poisoned")
        .push(Arrival {
            at,
            due,
            i,
            webhook_id,
        });
    recorded.count.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}
