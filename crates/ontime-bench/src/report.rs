//! One result per scenario and variant: printed as a JSON line when it is ready, and as a
//! row of the table at the end.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::procs::RssMap;
use crate::stats::{Delivery, Percentiles};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub scenario: String,
    pub variant: String,
    /// Timers in the test.
    pub n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<usize>,
    /// Lateness of each timer's first call (arrival − due), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lateness_ms: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creates_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<usize>,
    /// Memory of each process the scenario started, MiB.
    #[serde(skip_serializing_if = "RssMap::is_empty")]
    pub rss_mb: RssMap,
    /// Scenario-specific figures.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Something that makes the figures doubtful, without breaking an invariant.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Broken invariants: the bench exits non-zero.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl Outcome {
    pub fn new(scenario: &str, variant: &str, n: usize) -> Self {
        Self {
            scenario: scenario.into(),
            variant: variant.into(),
            n,
            ..Default::default()
        }
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.extra.insert(key.into(), value.into());
    }

    /// Rounds a float to 3 decimals for readable JSON.
    pub fn set_f(&mut self, key: &str, value: f64) {
        self.set(key, round(value));
    }

    /// Records the delivery figures; a lost timer or an unrecognisable duplicate is a failure.
    pub fn delivery(&mut self, d: &Delivery) {
        self.delivered = Some(d.delivered);
        self.lateness_ms = d.lateness;
        self.calls_per_sec = d.calls_per_sec.map(round);
        self.duplicates = Some(d.duplicates);
        self.missing = Some(d.missing);
        if d.missing > 0 {
            self.failures.push(format!(
                "{} acknowledged timer(s) never called (lost)",
                d.missing
            ));
        }
        if d.unrecognised_duplicates > 0 {
            self.failures.push(format!(
                "{} duplicate call(s) whose webhook-id does not match the first call's",
                d.unrecognised_duplicates
            ));
        }
        if d.early > 0 {
            self.failures
                .push(format!("{} timer(s) called before their due time", d.early));
        }
        if d.unexpected > 0 {
            self.warnings.push(format!(
                "{} call(s) for timers that were not acknowledged",
                d.unexpected
            ));
        }
    }

    pub fn malformed_calls(&mut self, n: usize) {
        if n > 0 {
            self.warnings
                .push(format!("{n} call(s) without the expected body"));
        }
    }

    pub fn json_line(&self) -> String {
        let mut value = serde_json::to_value(self).expect("serialisable");
        round_all(&mut value);
        value.to_string()
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round_all(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(x) = n.as_f64().map(round).and_then(serde_json::Number::from_f64) {
                *n = x;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(round_all),
        Value::Object(map) => map.values_mut().for_each(round_all),
        _ => {}
    }
}

/// The results as a Markdown table (also readable in a terminal).
pub fn table(outcomes: &[Outcome]) -> String {
    let header = [
        "scenario",
        "variant",
        "n",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "calls/s",
        "creates/s",
        "dup",
        "missing",
        "peak RSS MiB",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for o in outcomes {
        let ms = |f: fn(&Percentiles) -> f64| {
            o.lateness_ms
                .as_ref()
                .map_or(String::new(), |p| format!("{:.1}", f(p)))
        };
        let rate = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.0}"));
        let count = |x: Option<usize>| x.map_or(String::new(), |x| x.to_string());
        let rss = o
            .rss_mb
            .iter()
            .map(|(name, r)| format!("{} {:.0}", short(name), r.peak_mb))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(vec![
            o.scenario.clone(),
            o.variant.clone(),
            o.n.to_string(),
            ms(|p| p.p50),
            ms(|p| p.p90),
            ms(|p| p.p99),
            ms(|p| p.p999),
            ms(|p| p.max),
            rate(o.calls_per_sec),
            rate(o.creates_per_sec),
            count(o.duplicates),
            count(o.missing),
            rss,
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let line = |r: &Vec<String>| {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, w))| {
                if (2..=11).contains(&c) {
                    format!("{s:>w$}")
                } else {
                    format!("{s:<w$}")
                }
            })
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    let mut out = vec![line(&rows[0])];
    out.push(format!(
        "|{}|",
        widths
            .iter()
            .enumerate()
            .map(|(c, w)| if (2..=11).contains(&c) {
                format!("{}:", "-".repeat(w + 1))
            } else {
                "-".repeat(w + 2)
            })
            .collect::<Vec<_>>()
            .join("|")
    ));
    out.extend(rows[1..].iter().map(line));
    out.join("\n")
}

fn short(name: &str) -> &str {
    match name {
        "nats-server" => "nats",
        "gateway" => "gw",
        "scheduler" => "sched",
        "worker" => "wrk",
        "nats-server (dev)" => "nats",
        other => other,
    }
}
