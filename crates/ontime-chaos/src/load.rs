//! The creator: timers at a steady rate through both gateways, a mix of one-time and
//! recurring ones, some failing first, some deleted before they fall due; and the ledger of
//! what was asked and what ontime acknowledged, against which the sink's calls are judged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::rng::Rng;
use crate::sink::Sink;
use crate::util::log;

/// Every timer of the soak lives in this namespace.
pub const NAMESPACE: &str = "chaos";
/// The interval and number of runs of a recurring timer.
pub const EVERY: Duration = Duration::from_secs(2);
pub const RUNS: u32 = 3;
/// A DELETE is sent at least this long before the timer is due.
const DELETE_MARGIN: Duration = Duration::from_secs(3);
/// How long one request is tried again (alternating gateways, as a client would) before it
/// counts as not acknowledged: longer than a nats-server node's restart.
pub const RETRY_FOR: Duration = Duration::from_secs(20);

/// Which recurring shape the ontime under test accepts (found by [`probe_recurring`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurring {
    /// `{"every": "2s", "start_at": T, "max_runs": 3, "misfire": "fire_all"}`: the due time
    /// of every occurrence is known (T, T+2s, T+4s), and none may be skipped.
    Anchored,
    /// `{"every": "2s", "max_runs": 3}`: counted from creation; due times are not known
    /// exactly, so these occurrences are checked but left out of the lateness figures.
    FromCreation,
}

/// When a timer is due.
#[derive(Debug, Clone)]
pub enum Plan {
    OneTime {
        due: DateTime<Utc>,
    },
    Recurring {
        /// The first due time, when anchored with `start_at`.
        start: Option<DateTime<Utc>>,
    },
}

/// What became of one request (PUT or DELETE).
#[derive(Debug, Clone)]
pub enum Answer {
    Pending,
    /// 200, 201 or 202: ontime has it durably.
    Acked {
        status: u16,
        at: DateTime<Utc>,
        gateway: usize,
        tries: u32,
    },
    /// A 4xx: ontime refused the timer (a bug of this soak or of the validation).
    Refused {
        status: u16,
        body: String,
    },
    /// Only 5xx answers, timeouts or connection errors: ontime may or may not have it.
    Unacked {
        last: String,
    },
}

impl Answer {
    pub fn acked_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Answer::Acked { at, .. } => Some(*at),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Delete {
    pub sent_at: DateTime<Utc>,
    pub answer: Answer,
}

/// One timer of the soak.
#[derive(Debug, Clone)]
pub struct TimerRec {
    pub id: String,
    pub plan: Plan,
    /// The sink fails the first this-many calls of each occurrence.
    pub fail_first: u32,
    pub sent_at: DateTime<Utc>,
    pub put: Answer,
    /// Set once a DELETE was sent.
    pub delete: Option<Delete>,
}

/// Every timer of the run, indexed by its number (`t<n>`).
#[derive(Default)]
pub struct Ledger(Mutex<Vec<TimerRec>>);

impl Ledger {
    fn push(&self, rec: TimerRec) {
        self.lock().push(rec);
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut TimerRec)) {
        if let Some(rec) = self.lock().get_mut(index) {
            f(rec);
        }
    }

    pub fn snapshot(&self) -> Vec<TimerRec> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TimerRec>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The index of timer `t<n>` in the ledger.
pub fn index_of(timer: &str) -> Option<usize> {
    timer.strip_prefix('t')?.parse().ok()
}

/// Both gateways, round robin; one that just timed out or refused a connection is avoided
/// for a moment (it is probably killed or stopped) while the other one is not.
pub struct Gateways {
    bases: Vec<String>,
    http: reqwest::Client,
    next: AtomicUsize,
    avoid_until: Mutex<Vec<Instant>>,
}

impl Gateways {
    pub fn new(bases: Vec<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            // The gateway answers 202 after its reply timeout (5 s); more means it is stuck.
            .timeout(Duration::from_secs(8))
            .build()?;
        let now = Instant::now();
        Ok(Self {
            avoid_until: Mutex::new(vec![now; bases.len()]),
            bases,
            http,
            next: AtomicUsize::new(0),
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    fn choose(&self) -> usize {
        let first = self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len();
        let avoid = self.avoid_until.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        (0..self.bases.len())
            .map(|k| (first + k) % self.bases.len())
            .find(|&g| avoid[g] <= now)
            .unwrap_or(first)
    }

    fn avoid(&self, gateway: usize, for_: Duration) {
        let mut avoid = self.avoid_until.lock().unwrap_or_else(|e| e.into_inner());
        avoid[gateway] = Instant::now() + for_;
    }

    /// Sends one request with an `Idempotency-Key`, so that trying again (on the other
    /// gateway) after a timeout or a 5xx is applied at most once.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: &str,
    ) -> Answer {
        let answered = self
            .exchange(method, path, body, key, |reached, text| {
                match reached.status {
                    200..=202 => Verdict::Done(reached.acked()),
                    status if retried(status) => Verdict::Retry(format!("HTTP {status}")),
                    status => Verdict::Done(Answer::Refused { status, body: text }),
                }
            })
            .await;
        answered.unwrap_or_else(|last| Answer::Unacked { last })
    }

    /// Creates `timers` (each with its `id`) with one batch request, sent again under the same
    /// `Idempotency-Key` while any item is answered 5xx; one answer per timer, in order.
    pub async fn send_batch(&self, timers: Vec<Value>, key: &str) -> Vec<Answer> {
        let path = format!("/v1/namespaces/{NAMESPACE}/timers:batch");
        let body = json!({"timers": timers});
        let mut answers = vec![Answer::Pending; timers.len()];
        let answered = self
            .exchange(Method::POST, &path, Some(&body), key, |reached, text| {
                if reached.status != 200 {
                    let status = reached.status;
                    if retried(status) {
                        return Verdict::Retry(format!("HTTP {status}"));
                    }
                    for answer in answers.iter_mut() {
                        *answer = Answer::Refused {
                            status,
                            body: text.clone(),
                        };
                    }
                    return Verdict::Done(());
                }
                let items = serde_json::from_str::<Value>(&text).unwrap_or_default();
                for item in items["results"].as_array().into_iter().flatten() {
                    let (Some(i), Some(status)) = (item["index"].as_u64(), item["status"].as_u64())
                    else {
                        continue;
                    };
                    let Some(answer) = answers.get_mut(i as usize) else {
                        continue;
                    };
                    let status = status as u16;
                    *answer = match status {
                        // Already acknowledged by an earlier try: keep when it was.
                        _ if answer.acked_at().is_some() => continue,
                        200..=202 => Reached { status, ..reached }.acked(),
                        _ if retried(status) => Answer::Pending,
                        _ => Answer::Refused {
                            status,
                            body: item.to_string(),
                        },
                    };
                }
                match answers.iter().any(|a| matches!(a, Answer::Pending)) {
                    true => Verdict::Retry("a batch item answered 5xx or not at all".into()),
                    false => Verdict::Done(()),
                }
            })
            .await;
        if let Err(last) = answered {
            for answer in answers.iter_mut().filter(|a| matches!(a, Answer::Pending)) {
                *answer = Answer::Unacked { last: last.clone() };
            }
        }
        answers
    }

    /// Sends a request until `judge` is done with an answer, trying again (alternating
    /// gateways, with backoff) on a connection error, a timeout or when `judge` says so,
    /// for at most [`RETRY_FOR`]. `Err` holds the last reason to try again.
    async fn exchange<T>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: &str,
        mut judge: impl FnMut(Reached, String) -> Verdict<T>,
    ) -> Result<T, String> {
        let mut last = String::new();
        let mut gateway = self.choose();
        let started = Instant::now();
        for attempt in 1.. {
            if started.elapsed() > RETRY_FOR {
                break;
            }
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.bases[gateway]))
                .header("idempotency-key", key);
            if let Some(body) = body {
                request = request.json(body);
            }
            match request.send().await {
                Ok(response) => {
                    let reached = Reached {
                        status: response.status().as_u16(),
                        at: Utc::now(),
                        gateway,
                        tries: attempt,
                    };
                    let text = response.text().await.unwrap_or_default();
                    match judge(reached, text) {
                        Verdict::Done(answer) => return Ok(answer),
                        Verdict::Retry(reason) => {
                            last = reason;
                            self.avoid(gateway, Duration::from_millis(500));
                        }
                    }
                }
                Err(e) => {
                    last = if e.is_timeout() {
                        "timeout".into()
                    } else if e.is_connect() {
                        "connection failed".into()
                    } else {
                        "request error".into()
                    };
                    self.avoid(gateway, Duration::from_secs(3));
                }
            }
            // Exponential backoff (250 ms doubling to 4 s), as a polite client would: quick
            // retries would only add load to a cluster that is already struggling.
            tokio::time::sleep(Duration::from_millis(
                250 << attempt.min(5).saturating_sub(1),
            ))
            .await;
            gateway = (gateway + 1) % self.bases.len();
        }
        Err(last)
    }
}

/// An answer that came: its status, when, from which gateway, after how many tries.
#[derive(Debug, Clone, Copy)]
struct Reached {
    status: u16,
    at: DateTime<Utc>,
    gateway: usize,
    tries: u32,
}

impl Reached {
    fn acked(self) -> Answer {
        Answer::Acked {
            status: self.status,
            at: self.at,
            gateway: self.gateway,
            tries: self.tries,
        }
    }
}

/// What a request's answer leads to.
enum Verdict<T> {
    Done(T),
    Retry(String),
}

/// Statuses a client tries again.
fn retried(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The body of a PUT.
fn timer_body(schedule: Value, url: &str, id: &str) -> Value {
    json!({
        "schedule": schedule,
        "target": {"http": {"url": url, "method": "POST", "body": {"timer": id}}},
        "retry": {"max_attempts": 10, "initial_interval": "200ms", "max_interval": "2s"},
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn recurring_schedule(mode: Recurring, start: DateTime<Utc>) -> Value {
    let every = format!("{}s", EVERY.as_secs());
    match mode {
        Recurring::Anchored => json!({
            "every": every, "start_at": rfc3339(start), "max_runs": RUNS, "misfire": "fire_all",
        }),
        Recurring::FromCreation => json!({"every": every, "max_runs": RUNS}),
    }
}

/// Finds which recurring shape ontime accepts: one far-future timer of each shape, deleted at
/// once. `None` (one-time timers only) if neither is accepted.
pub async fn probe_recurring(gateways: &Gateways, sink: &Sink) -> Option<Recurring> {
    let url = format!("{}/probe", sink.base);
    for mode in [Recurring::Anchored, Recurring::FromCreation] {
        let path = format!("/v1/namespaces/{NAMESPACE}-probe/timers/{mode:?}");
        let mut schedule = recurring_schedule(mode, Utc::now() + TimeDelta::hours(1));
        if mode == Recurring::FromCreation {
            schedule["every"] = json!("1h"); // so it cannot fire before it is deleted
        }
        let body = timer_body(schedule, &url, "probe");
        let answer = gateways
            .send(Method::PUT, &path, Some(&body), &format!("probe-{mode:?}"))
            .await;
        match answer {
            Answer::Acked { .. } => {
                gateways
                    .send(Method::DELETE, &path, None, &format!("probe-del-{mode:?}"))
                    .await;
                return Some(mode);
            }
            Answer::Refused { status, body } => {
                log(format!(
                    "probe: recurring shape {mode:?} refused ({status}): {body}"
                ));
            }
            other => log(format!("probe: recurring shape {mode:?}: {other:?}")),
        }
    }
    None
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub duration: Duration,
    pub rate: f64,
    pub recurring_share: f64,
    pub delete_share: f64,
    pub fail_share: f64,
    /// Share of one-time timers created through the batch endpoint, [`BATCH`] per request.
    pub batch_share: f64,
    pub recurring: Option<Recurring>,
}

/// Timers per batch request.
const BATCH: usize = 20;
/// A batched timer waits for its batch to fill: it is due at least this far ahead.
const BATCHED_AHEAD: Duration = Duration::from_secs(3);

/// Creates `rate × duration` timers, one every `1/rate` seconds, and returns the tasks still
/// in flight (PUTs awaiting an answer, DELETEs waiting for their moment).
pub async fn run(
    config: LoadConfig,
    mut rng: Rng,
    gateways: Arc<Gateways>,
    sink: Sink,
    ledger: Arc<Ledger>,
) -> JoinSet<()> {
    let total = (config.rate * config.duration.as_secs_f64()).round() as usize;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate));
    // Catch up after a stall, so the average rate holds.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut tasks = JoinSet::new();
    let mut batch = Vec::with_capacity(BATCH);
    for n in 0..total {
        ticks.tick().await;
        while tasks.try_join_next().is_some() {}
        let id = format!("t{n}");
        let now = Utc::now();
        let recurring = config
            .recurring
            .filter(|_| rng.chance(config.recurring_share));
        let batched = recurring.is_none() && rng.chance(config.batch_share);
        let soonest = if batched {
            BATCHED_AHEAD
        } else {
            Duration::from_secs(1)
        };
        let due_in = rng.duration(soonest, Duration::from_secs(20));
        let due = now + TimeDelta::from_std(due_in).unwrap_or_default();
        let fail_first = if rng.chance(config.fail_share) {
            rng.range(1, 2) as u32
        } else {
            0
        };
        // Deletes only for one-time timers due far enough ahead to leave room before the
        // margin; the moment is a random fraction of that room after the PUT's answer.
        let delete_at = (recurring.is_none()
            && !batched
            && due_in >= DELETE_MARGIN + Duration::from_secs(2)
            && rng.chance(config.delete_share))
        .then(|| rng.unit());
        let (plan, schedule) = match recurring {
            Some(mode) => (
                Plan::Recurring {
                    start: (mode == Recurring::Anchored).then_some(due),
                },
                recurring_schedule(mode, due),
            ),
            None => (Plan::OneTime { due }, json!({"at": rfc3339(due)})),
        };
        let body = timer_body(schedule, &sink.url(&id, fail_first), &id);
        ledger.push(TimerRec {
            id: id.clone(),
            plan,
            fail_first,
            sent_at: now,
            put: Answer::Pending,
            delete: None,
        });
        if batched {
            let mut item = body;
            item["id"] = json!(id);
            batch.push((n, item));
            if batch.len() == BATCH {
                send_batch(&mut tasks, &gateways, &ledger, std::mem::take(&mut batch));
            }
            continue;
        }
        let gateways = gateways.clone();
        let ledger = ledger.clone();
        tasks.spawn(async move {
            let path = format!("/v1/namespaces/{NAMESPACE}/timers/{id}");
            let answer = gateways
                .send(Method::PUT, &path, Some(&body), &format!("put-{id}"))
                .await;
            let acked = answer.acked_at().is_some();
            ledger.update(n, |rec| rec.put = answer);
            let Some(fraction) = delete_at.filter(|_| acked) else {
                return;
            };
            let room = (due - Utc::now() - TimeDelta::from_std(DELETE_MARGIN).unwrap_or_default())
                .to_std()
                .unwrap_or_default();
            tokio::time::sleep(room.mul_f64(fraction)).await;
            let sent_at = Utc::now();
            if due - sent_at < TimeDelta::from_std(DELETE_MARGIN).unwrap_or_default() {
                return; // the PUT took too long: no room left, the timer stays
            }
            ledger.update(n, |rec| {
                rec.delete = Some(Delete {
                    sent_at,
                    answer: Answer::Pending,
                })
            });
            let answer = gateways
                .send(Method::DELETE, &path, None, &format!("delete-{id}"))
                .await;
            ledger.update(n, |rec| {
                if let Some(delete) = rec.delete.as_mut() {
                    delete.answer = answer;
                }
            });
        });
    }
    if !batch.is_empty() {
        send_batch(&mut tasks, &gateways, &ledger, batch);
    }
    tasks
}

/// Sends timers `(ledger index, body with its id)` in one batch request, recording each
/// one's answer.
fn send_batch(
    tasks: &mut JoinSet<()>,
    gateways: &Arc<Gateways>,
    ledger: &Arc<Ledger>,
    items: Vec<(usize, Value)>,
) {
    let (gateways, ledger) = (gateways.clone(), ledger.clone());
    tasks.spawn(async move {
        let key = format!("batch-t{}", items[0].0);
        let (indices, timers): (Vec<usize>, Vec<Value>) = items.into_iter().unzip();
        let answers = gateways.send_batch(timers, &key).await;
        for (n, answer) in indices.into_iter().zip(answers) {
            ledger.update(n, |rec| rec.put = answer);
        }
    });
}
