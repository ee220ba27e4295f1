//! Timing events: where a call's lateness comes from. Each step between a wake-up and the
//! call logs, at debug level under [`TARGET`], how far from the timer's due instant it
//! happened, in microseconds (negative: before it). `ONTIME_LOG=info,ontime::timing=debug`
//! turns them on; `ontime-bench --stages` reads them.

use chrono::{DateTime, Utc};

/// The `tracing` target of the timing events.
pub const TARGET: &str = "ontime::timing";

/// `at` relative to `due`, in microseconds.
pub fn from_due_us(due: DateTime<Utc>, at: DateTime<Utc>) -> i64 {
    (at - due).num_microseconds().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_the_due_instant_is_negative() {
        let due = Utc::now();
        let ms = chrono::Duration::milliseconds;
        assert_eq!(from_due_us(due, due - ms(20)), -20_000);
        assert_eq!(from_due_us(due, due + ms(3)), 3_000);
    }
}
