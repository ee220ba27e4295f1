//! `--stages`: where ontime's lateness comes from. The ontime processes run with their timing
//! events on (`ontime_core::timing`): for every firing, how far from the due instant the
//! wake-up arrived and its record was read (scheduler), the fire was emitted and stored
//! (scheduler), and the fire arrived, the record was read, the hold until the instant ended
//! and the timer's mark was checked (worker). After the run their logs are read back into percentiles, in ms from the
//! due instant (negative: before it). The call's arrival at the sink is the `lateness_ms` of
//! the same row. Writing three log lines per call costs CPU, hence off by default.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::stats::Percentiles;

/// `ONTIME_LOG` for the ontime processes when stages are measured.
pub const LOG_FILTER: &str = "info,async_nats=warn,ontime::timing=debug";

/// Percentiles of every timing field in the logs of `dir`'s scheduler and worker, keyed
/// `<event>.<field>` (`call.checked`: the worker had checked the timer's mark).
pub fn read(dir: &Path) -> Map<String, Value> {
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for part in ["scheduler", "worker"] {
        let Ok(log) = std::fs::read_to_string(dir.join(format!("{part}.log"))) else {
            continue;
        };
        for line in log.lines() {
            for (key, us) in timing_fields(&strip_ansi(line)) {
                samples.entry(key).or_default().push(us as f64 / 1000.0);
            }
        }
    }
    samples
        .into_iter()
        .filter_map(|(key, ms)| {
            let p = Percentiles::of(ms)?;
            Some((key, serde_json::to_value(p).ok()?))
        })
        .collect()
}

/// The fields of one timing event: `… ontime::timing: fire emitted_us=-19000 stored_us=-18000`
/// gives `("fire.emitted", -19000)` and `("fire.stored", -18000)`.
fn timing_fields(line: &str) -> Vec<(String, i64)> {
    let Some((_, event)) = line.split_once(&format!("{}: ", ontime_core::timing::TARGET)) else {
        return Vec::new();
    };
    let mut words = event.split_whitespace();
    let Some(name) = words.next() else {
        return Vec::new();
    };
    words
        .filter_map(|word| {
            let (key, value) = word.split_once('=')?;
            let field = key.strip_suffix("_us")?;
            Some((format!("{name}.{field}"), value.parse().ok()?))
        })
        .collect()
}

/// The line without its terminal colour codes (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_of_a_coloured_timing_line() {
        let line = "\u{1b}[2m2026-11-28T02:03:33.155841Z\u{1b}[0m \u{1b}[34mDEBUG\u{1b}[0m \
                    \u{1b}[2montime::timing\u{1b}[0m\u{1b}[2m:\u{1b}[0m call \
                    \u{1b}[3marrived_us\u{1b}[0m\u{1b}[2m=\u{1b}[0m-18200 \
                    \u{1b}[3mread_us\u{1b}[0m\u{1b}[2m=\u{1b}[0m1600";
        assert_eq!(
            timing_fields(&strip_ansi(line)),
            vec![("call.arrived".into(), -18200), ("call.read".into(), 1600)]
        );
        assert!(
            timing_fields("2026-11-28T02:03:33Z  INFO ontime::dev: ready port=4222").is_empty()
        );
    }
}
