//! Percentiles, and what the sink's record says about a run: lateness, duplicates, missing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::sink::Arrival;

/// p50 … max of a sample (nearest rank).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(mut sample: Vec<f64>) -> Option<Self> {
        if sample.is_empty() {
            return None;
        }
        sample.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let k = (p * sample.len() as f64).ceil() as usize;
            sample[k.clamp(1, sample.len()) - 1]
        };
        Some(Self {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            p999: rank(0.999),
            max: sample[sample.len() - 1],
        })
    }
}

/// Milliseconds from `from` to `to` (negative if `to` is earlier).
pub fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// The sink's record checked against the timers that were acknowledged.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Timers that were called at least once.
    pub delivered: usize,
    /// Calls beyond the first of a timer.
    pub duplicates: usize,
    /// Duplicates whose `webhook-id` differs from the first call's: not recognisable as a
    /// retry of the same occurrence (an invariant broken).
    pub unrecognised_duplicates: usize,
    /// Acknowledged timers never called (lost: an invariant broken).
    pub missing: usize,
    /// Calls for timers that were not created (or not acknowledged).
    pub unexpected: usize,
    /// Timers whose first call arrived before their due time (an invariant broken).
    pub early: usize,
    /// Lateness (arrival − due) of each timer's first call, ms.
    pub lateness: Option<Percentiles>,
    /// Calls per second from the earliest due time to the last arrival.
    pub calls_per_sec: Option<f64>,
    pub last_arrival: Option<DateTime<Utc>>,
}

/// `expected`: the indices of the acknowledged timers.
pub fn analyse(arrivals: &[Arrival], expected: &HashSet<u64>) -> Delivery {
    let mut first: HashMap<u64, &Arrival> = HashMap::with_capacity(expected.len());
    let (mut duplicates, mut unrecognised, mut unexpected) = (0, 0, 0);
    for a in arrivals {
        if !expected.contains(&a.i) {
            unexpected += 1;
            continue;
        }
        match first.get(&a.i) {
            None => {
                first.insert(a.i, a);
            }
            Some(f) => {
                duplicates += 1;
                if f.webhook_id != a.webhook_id || a.webhook_id.is_empty() {
                    unrecognised += 1;
                }
                // Keep the earliest arrival as the timer's call.
                if a.at < f.at {
                    first.insert(a.i, a);
                }
            }
        }
    }
    let lateness = Percentiles::of(first.values().map(|a| ms_between(a.due, a.at)).collect());
    let early = first.values().filter(|a| a.at < a.due).count();
    let earliest_due = first.values().map(|a| a.due).min();
    let last_arrival = first.values().map(|a| a.at).max();
    let calls_per_sec = match (earliest_due, last_arrival) {
        (Some(d), Some(l)) if l > d => Some(first.len() as f64 / (ms_between(d, l) / 1000.0)),
        _ => None,
    };
    Delivery {
        delivered: first.len(),
        duplicates,
        unrecognised_duplicates: unrecognised,
        missing: expected.len() - first.len(),
        unexpected,
        early,
        lateness,
        calls_per_sec,
        last_arrival,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let p = Percentiles::of((1..=1000).map(f64::from).collect()).unwrap();
        assert_eq!(
            (p.p50, p.p90, p.p99, p.p999, p.max),
            (500.0, 900.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(Percentiles::of(vec![7.0]).unwrap().p999, 7.0);
        assert!(Percentiles::of(vec![]).is_none());
    }

    #[test]
    fn duplicates_and_missing() {
        let t = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
        let call = |i: u64, at: i64, id: &str| Arrival {
            at: t(at),
            due: t(1000),
            i,
            webhook_id: id.into(),
        };
        let arrivals = vec![
            call(0, 1010, "a"),
            call(0, 1500, "a"),
            call(1, 1020, "b"),
            call(1, 1030, "b2"),
            call(9, 1000, "z"),
        ];
        let d = analyse(&arrivals, &HashSet::from([0, 1, 2]));
        assert_eq!(d.delivered, 2);
        assert_eq!(d.duplicates, 2);
        assert_eq!(d.unrecognised_duplicates, 1);
        assert_eq!(d.missing, 1);
        assert_eq!(d.unexpected, 1);
        assert_eq!(d.lateness.unwrap().max, 20.0);
        assert_eq!(d.early, 0);
        let early = vec![call(0, 999, "a"), call(1, 1000, "b")];
        assert_eq!(analyse(&early, &HashSet::from([0, 1])).early, 1);
    }
}
