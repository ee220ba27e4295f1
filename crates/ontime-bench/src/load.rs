//! Creating timers: the spec every scenario uses, and the three ways in (REST one by one,
//! the batch endpoint, JetStream commands published straight to `ontime.cmd.<ns>.<id>`).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream::{FuturesUnordered, StreamExt as _};
use serde::Deserialize;
use serde_json::{Value, json};

/// The namespace of every benchmark timer.
pub const NS: &str = "bench";

/// JetStream publishes awaiting their ack at once. More does not go faster (the server
/// stores them one by one) and, behind a slow fsync, runs into the client's 5 s ack timeout.
pub const ACK_WINDOW: usize = 512;

/// A timer to create: its index (carried back in the call's body), id and spec.
pub struct Item {
    pub i: u64,
    pub id: String,
    pub spec: Value,
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A one-time timer due at `due` that POSTs `{"due": …, "i": …}` to `url`.
pub fn item(prefix: &str, i: u64, due: DateTime<Utc>, url: &str) -> Item {
    let due = rfc3339(due);
    Item {
        i,
        id: format!("{prefix}{i}"),
        spec: json!({
            "schedule": {"at": due},
            "target": {"http": {"url": url, "method": "POST", "body": {"due": due, "i": i}}},
        }),
    }
}

/// `n` due times spread uniformly over `seconds` from `t0`, on whole milliseconds.
pub fn uniform(t0: DateTime<Utc>, n: usize, seconds: f64) -> Vec<DateTime<Utc>> {
    (0..n)
        .map(|i| {
            let offset_ms = (i as f64 * seconds * 1000.0 / n as f64).floor() as i64;
            t0 + chrono::Duration::milliseconds(offset_ms)
        })
        .collect()
}

/// `t` rounded up to the next whole second.
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(1000) + 1000).expect("in range")
}

/// Timers created by a warm-up that measures the creation rate: a tenth of the run, between
/// 200 and 1,000.
pub fn warm_up_size(n: usize) -> usize {
    (n / 10).clamp(200, 1000)
}

/// Items due in an hour (they never fire during a run), for warm-ups and creation tests.
pub fn far_items(prefix: &str, first_i: u64, n: usize, url: &str) -> Vec<Item> {
    let far = whole_second(Utc::now() + chrono::Duration::hours(1));
    (first_i..first_i + n as u64)
        .map(|i| {
            item(
                prefix,
                i,
                far + chrono::Duration::milliseconds(i as i64),
                url,
            )
        })
        .collect()
}

/// How long before the first due time the creation of `n` timers starts: `explicit`
/// (`--lead-in`) if given, else `factor` times the time they take at `rate` (measured by a
/// warm-up; the rate varies), plus ontime's 2 s lead and 3 s of margin.
pub fn lead_in(explicit: Option<f64>, n: usize, rate: f64, factor: f64) -> chrono::TimeDelta {
    let secs = explicit.unwrap_or(5.0 + factor * n as f64 / rate.max(1.0));
    chrono::Duration::milliseconds((secs * 1000.0) as i64)
}

/// What a creation run achieved.
#[derive(Debug, Default)]
pub struct Created {
    /// Indices of the timers acknowledged (2xx, or a JetStream ack).
    pub acked: HashSet<u64>,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Per request (REST) latency, ms.
    pub latencies_ms: Vec<f64>,
}

impl Created {
    pub fn per_sec(&self) -> f64 {
        self.acked.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// `"<n> <what>, first: <error>"`, when anything failed.
    pub fn failures(&self, what: &str) -> Option<String> {
        (self.errors > 0).then(|| {
            format!(
                "{} {what}, first: {}",
                self.errors,
                self.first_error.as_deref().unwrap_or("?")
            )
        })
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

pub fn http_client(pool: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("an HTTP client")
}

/// `PUT /v1/namespaces/bench/timers/{id}`, `concurrency` requests at a time.
pub async fn rest_one_by_one(
    http: &reqwest::Client,
    base: &str,
    items: Vec<Item>,
    concurrency: usize,
) -> Created {
    let start = Instant::now();
    let mut results = futures::stream::iter(items)
        .map(|item| async move {
            let sent = Instant::now();
            let url = format!("{base}/v1/namespaces/{NS}/timers/{}", item.id);
            let outcome = match http.put(url).json(&item.spec).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!(
                    "HTTP {}: {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                )),
                Err(e) => Err(e.to_string()),
            };
            (item.i, outcome, sent.elapsed())
        })
        .buffer_unordered(concurrency);
    let mut created = Created::default();
    while let Some((i, outcome, latency)) = results.next().await {
        created.latencies_ms.push(latency.as_secs_f64() * 1000.0);
        match outcome {
            Ok(()) => {
                created.acked.insert(i);
            }
            Err(e) => created.error(e),
        }
    }
    created.elapsed = start.elapsed();
    created
}

#[derive(Deserialize)]
struct BatchResponse {
    results: Vec<BatchResult>,
}

#[derive(Deserialize)]
struct BatchResult {
    index: usize,
    status: u16,
}

/// `POST /v1/namespaces/bench/timers:batch` with `batch` timers per request, `concurrency`
/// requests at a time.
pub async fn rest_batch(
    http: &reqwest::Client,
    base: &str,
    items: Vec<Item>,
    batch: usize,
    concurrency: usize,
) -> Created {
    let start = Instant::now();
    let url = format!("{base}/v1/namespaces/{NS}/timers:batch");
    let mut chunks: Vec<Vec<Item>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(batch).collect());
    }
    let mut results = futures::stream::iter(chunks)
        .map(|chunk| {
            let url = &url;
            async move {
                let timers: Vec<Value> = chunk
                    .iter()
                    .map(|item| {
                        let mut t = item.spec.clone();
                        t["id"] = Value::String(item.id.clone());
                        t
                    })
                    .collect();
                let sent = Instant::now();
                let answer = async {
                    let r = http
                        .post(url)
                        .json(&json!({"timers": timers}))
                        .send()
                        .await?;
                    let status = r.status();
                    let text = r.text().await?;
                    anyhow::ensure!(status.is_success(), "HTTP {status}: {text}");
                    Ok(serde_json::from_str::<BatchResponse>(&text)?)
                }
                .await;
                (chunk, answer, sent.elapsed())
            }
        })
        .buffer_unordered(concurrency);
    let mut created = Created::default();
    while let Some((chunk, answer, latency)) = results.next().await {
        created.latencies_ms.push(latency.as_secs_f64() * 1000.0);
        match answer {
            Ok(answer) => {
                for r in answer.results {
                    match chunk.get(r.index) {
                        Some(item) if (200..300).contains(&r.status) => {
                            created.acked.insert(item.i);
                        }
                        _ => created.error(format!("batch item {}: HTTP {}", r.index, r.status)),
                    }
                }
            }
            Err(e) => {
                for _ in &chunk {
                    created.error(format!("{e:#}"));
                }
            }
        }
    }
    created.elapsed = start.elapsed();
    created
}

/// Upsert commands published with JetStream, `per_message` per message: one command each
/// on `ontime.cmd.bench.<id>` when it is 1, else batches on `ontime.cmd.bench`. At most
/// `window` commands await their acknowledgement (and at least two messages).
pub async fn nats_commands(
    js: &jetstream::Context,
    items: Vec<Item>,
    per_message: usize,
    window: usize,
) -> Created {
    let start = Instant::now();
    let mut created = Created::default();
    let mut pending = FuturesUnordered::new();
    let per_message = per_message.max(1);
    let window = (window / per_message).max(2);
    for chunk in items.chunks(per_message) {
        let mut commands: Vec<Value> = chunk
            .iter()
            .map(|item| {
                json!({"v": 1, "kind": "upsert", "namespace": NS, "id": item.id, "spec": item.spec})
            })
            .collect();
        let (subject, message) = if per_message == 1 {
            let command = commands.pop().expect("one command");
            (format!("ontime.cmd.{NS}.{}", chunk[0].id), command)
        } else {
            let batch = json!({"v": 1, "namespace": NS, "commands": commands});
            (format!("ontime.cmd.{NS}"), batch)
        };
        let payload = serde_json::to_vec(&message).expect("serialisable");
        let indices: Vec<u64> = chunk.iter().map(|item| item.i).collect();
        match js.publish(subject, payload.into()).await {
            Ok(ack) => pending.push(async move { (indices, ack.await) }),
            Err(e) => {
                for _ in chunk {
                    created.error(e.to_string());
                }
            }
        }
        while pending.len() >= window {
            settle(&mut created, pending.next().await);
        }
    }
    while let Some(next) = pending.next().await {
        settle(&mut created, Some(next));
    }
    created.elapsed = start.elapsed();
    created
}

fn settle<E: std::fmt::Display>(
    created: &mut Created,
    next: Option<(Vec<u64>, Result<jetstream::publish::PublishAck, E>)>,
) {
    match next {
        Some((indices, Ok(_))) => created.acked.extend(indices),
        Some((indices, Err(e))) => {
            for _ in indices {
                created.error(e.to_string());
            }
        }
        None => {}
    }
}
