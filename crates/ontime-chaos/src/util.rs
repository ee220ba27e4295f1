//! Small helpers: durations on the command line, free ports, the run's event log.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Parses `500ms`, `30s`, `3m`, `1m30s`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| e.to_string());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?}: a number needs a unit (ms, s, m, h)"))?;
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("{text:?}: not a duration"))?;
        let secs = match unit {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
        };
        total += Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())?;
        rest = tail;
    }
    if text.is_empty() {
        return Err("empty duration".into());
    }
    Ok(total)
}

/// A loopback port nobody listens on right now, and not one handed out before: the ports
/// of a run are all picked before its processes start, and the system may give a port it
/// just gave again while nobody listens on it yet (a gateway once got a nats-server's).
pub fn free_port() -> std::io::Result<u16> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
}

/// The machine: CPUs and the 1-minute load average (Linux), for the report: other work on
/// the same machine makes lateness figures meaningless.
pub fn machine_load() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    format!("{cpus} CPU(s), load average {load}")
}

/// `12:34:56.789` (UTC), the form every line of the run's log uses.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S%.3f").to_string()
}

struct EventLog {
    start: DateTime<Utc>,
    file: Option<File>,
}

static EVENTS: OnceLock<Mutex<EventLog>> = OnceLock::new();

/// Starts the run's clock; `chaos.log` in `dir` gets a copy of every line [`log`] prints.
pub fn init_log(dir: &Path) {
    let file = File::create(dir.join("chaos.log")).ok();
    let _ = EVENTS.set(Mutex::new(EventLog {
        start: Utc::now(),
        file,
    }));
}

/// Prints `[+12.3s 12:34:56.789] message` and appends it to `chaos.log`.
pub fn log(message: impl AsRef<str>) {
    let now = Utc::now();
    let Some(events) = EVENTS.get() else {
        println!("[{}] {}", stamp(now), message.as_ref());
        return;
    };
    let mut events = events.lock().unwrap_or_else(|e| e.into_inner());
    let elapsed = (now - events.start).num_milliseconds() as f64 / 1000.0;
    let line = format!("[+{elapsed:.1}s {}] {}", stamp(now), message.as_ref());
    println!("{line}");
    if let Some(file) = events.file.as_mut() {
        let _ = writeln!(file, "{line}");
    }
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn quantiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
