//! The HTTP target of the tests: records every call and answers from a script.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

/// One call the sink received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: DateTime<Utc>,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A scripted answer: status, body, optional delay.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Per path: the answers to give, in order; when empty, 200 `{"ok": true}`.
    script: HashMap<String, VecDeque<Answer>>,
}

/// An axum server on 127.0.0.1:0.
#[derive(Clone)]
pub struct Sink {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl Sink {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, inner }
    }

    /// The URL of `path` on the sink.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers the next calls to `path` with these statuses, in order.
    pub fn script(&self, path: &str, statuses: &[u16]) {
        for &status in statuses {
            self.script_answer(path, status, "", Duration::ZERO);
        }
    }

    pub fn script_answer(&self, path: &str, status: u16, body: &str, delay: Duration) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .script
            .entry(path.to_owned())
            .or_default()
            .push_back(Answer {
                status,
                body: body.to_owned(),
                delay,
            });
    }

    /// Every call to `path` so far.
    pub fn calls(&self, path: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    pub fn all_calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Waits until `path` has had no new call for `quiet` (calls in flight land first), and
    /// returns how many it had; fails if the calls have not stopped `within`.
    pub async fn settled(&self, path: &str, quiet: Duration, within: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = self.calls(path).len();
        loop {
            tokio::time::sleep(quiet).await;
            let now = self.calls(path).len();
            if now == seen {
                return now;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the calls to {path} never stop"
            );
            seen = now;
        }
    }

    /// Waits until `path` has had at least `n` calls.
    pub async fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Call> {
        crate::eventually(within, &format!("{n} call(s) to {path}"), || async {
            let calls = self.calls(path);
            (calls.len() >= n).then_some(calls)
        })
        .await
    }
}

async fn record(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Utc::now();
    let path = uri.path().to_owned();
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.calls.push(Call {
            method,
            path: path.clone(),
            query: uri.query().map(str::to_owned),
            headers,
            body,
            at,
        });
        inner.script.get_mut(&path).and_then(VecDeque::pop_front)
    };
    let answer = answer.unwrap_or(Answer {
        status: 200,
        body: r#"{"ok": true}"#.into(),
        delay: Duration::ZERO,
    });
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", "application/json")], answer.body).into_response()
}
