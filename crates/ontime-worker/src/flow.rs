//! Flow limits at the worker: before a call, it waits for its turn under its namespace's
//! limit and under its host's, as every worker shares them ([`ontime_nats::flow`]). A call
//! over a limit waits; it never fails because of one. The wait is part of its lateness.
//!
//! A worker reserves the starts of all the calls it has waiting for one rate at once (one
//! write for the lot), and hands them out in order; a reservation left unused once its
//! instant has passed is dropped, not used late, so that no second ever sees more calls than
//! the rate allows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ontime_core::flow::FlowLimit;
use ontime_core::id::Namespace;
use ontime_nats::TrustView;
use ontime_nats::flow::{FlowState, Place};

/// The most starts one reservation covers.
const MAX_RESERVATION: u32 = 64;
/// How often a call waiting for a place under a concurrency limit looks again, at first and
/// at most.
const PLACE_POLL: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(200));
/// How long a place outlives the call that holds it when its worker dies mid-call.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The worker's side of the flow limits, shared by its calls.
pub struct Limiter {
    state: FlowState,
    view: TrustView,
    rates: Mutex<HashMap<String, Arc<Rate>>>,
}

/// This worker's reservations under one rate.
#[derive(Default)]
struct Rate {
    /// Calls of this worker waiting for a turn under this rate.
    waiting: AtomicU32,
    turns: tokio::sync::Mutex<Turns>,
}

/// Starts reserved and not handed out yet: `left` of them, from `next`, `spacing` apart.
#[derive(Default)]
struct Turns {
    next: Option<DateTime<Utc>>,
    left: u32,
    spacing: Duration,
}

/// The places a call holds while it is made; [`Limiter::release`] gives them back.
#[derive(Default)]
pub struct Admitted {
    places: Vec<Place>,
    /// Whether the call waited for a limit (its start moved).
    pub waited: bool,
}

impl Limiter {
    pub fn new(state: FlowState, view: TrustView) -> Self {
        Self {
            state,
            view,
            rates: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until a call of `ns` to `host` may start under every limit that covers it,
    /// taking a place under each concurrency limit (held at most `timeout` and a margin).
    pub async fn admit(&self, ns: &Namespace, host: Option<&str>, timeout: Duration) -> Admitted {
        let limits: Vec<(String, FlowLimit)> = [
            self.view.flow_limit(ns, None).map(|l| (ns.to_string(), l)),
            host.and_then(|h| {
                let limit = self.view.flow_limit(ns, Some(h))?;
                Some((format!("{ns}/{h}"), limit))
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut admitted = Admitted::default();
        if limits.is_empty() {
            return admitted;
        }
        let waiting = metrics::gauge!(crate::metrics::FLOW_WAITING);
        waiting.increment(1.0);
        let began = std::time::Instant::now();
        let mut start = Utc::now();
        for (key, limit) in &limits {
            if let Some(spacing) = limit.spacing() {
                start = start.max(self.turn(key, spacing).await);
            }
        }
        if let Ok(wait) = (start - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        for (key, limit) in &limits {
            if let Some(places) = limit.concurrency {
                admitted
                    .places
                    .push(self.place(key, places, timeout + LEASE_MARGIN).await);
            }
        }
        waiting.decrement(1.0);
        let waited = began.elapsed();
        metrics::histogram!(crate::metrics::FLOW_WAIT).record(waited.as_secs_f64());
        admitted.waited = waited >= Duration::from_millis(1);
        admitted
    }

    /// Gives back the places a call held.
    pub async fn release(&self, admitted: Admitted) {
        for place in admitted.places {
            if let Err(e) = self.state.give_back(place).await {
                tracing::warn!(error = %e, "a place under a concurrency limit was not given back; it frees itself when its lease ends");
            }
        }
    }

    /// The start of the next call under the rate of `key`: from this worker's reservation,
    /// or from a new one covering every call of this worker waiting for it.
    async fn turn(&self, key: &str, spacing: Duration) -> DateTime<Utc> {
        let rate = {
            let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
            rates.entry(key.to_owned()).or_default().clone()
        };
        rate.waiting.fetch_add(1, Ordering::Relaxed);
        let mut turns = rate.turns.lock().await;
        rate.waiting.fetch_sub(1, Ordering::Relaxed);
        let now = Utc::now();
        let stale = turns.next.is_none_or(|next| next < now) || turns.spacing != spacing;
        if turns.left == 0 || stale {
            let calls = (rate.waiting.load(Ordering::Relaxed) + 1).min(MAX_RESERVATION);
            let first = self.reserve(key, spacing, calls).await;
            *turns = Turns {
                next: Some(first),
                left: calls,
                spacing,
            };
        }
        let at = turns.next.unwrap_or(now);
        turns.next = Some(at + TimeDelta::from_std(spacing).unwrap_or_default());
        turns.left -= 1;
        at
    }

    /// A reservation of `calls` starts, tried again until NATS takes it.
    async fn reserve(&self, key: &str, spacing: Duration, calls: u32) -> DateTime<Utc> {
        let mut pause = PLACE_POLL.0;
        loop {
            match self.state.reserve(key, spacing, calls, Utc::now()).await {
                Ok(first) => return first,
                Err(e) => {
                    tracing::warn!(error = %e, key, "reserving calls under a rate limit failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// A place under the concurrency limit of `key`, waited for.
    async fn place(&self, key: &str, places: u32, lease: Duration) -> Place {
        let mut pause = PLACE_POLL.0;
        loop {
            match self.state.take(key, places, lease).await {
                Ok(Some(place)) => return place,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, key, "taking a place under a concurrency limit failed; trying again");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(PLACE_POLL.1);
        }
    }
}
