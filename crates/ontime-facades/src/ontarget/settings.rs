//! What the original had on its to-do list and the facade adds: retries and timeouts per
//! subscriber, retries and an expiry per event. Each is optional, and the defaults are the
//! original's behaviour: one call, no retry, a 1-second timeout, no expiry.
//!
//! - `retries`: how many times a failed call (a 5xx, 408, 429, a timeout or no connection) is
//!   made again, 0 to 99, waiting 1 s, then 2 s, 4 s… (at most 10 min) in between; only the
//!   failed subscribers are called again;
//! - `timeout`: seconds a subscriber's call may take (decimals allowed), up to 900;
//! - `max_lateness`: seconds after its due time past which an event's call is not made (nor
//!   retried) any more, but logged as expired.

use std::time::Duration;

use ontime_core::HumanDuration;
use ontime_core::retry::RetryPolicy;

use super::answer::Text;

/// A subscriber's call timeout when it sets none: the original's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The most retries: the native policy makes at most 100 attempts.
const MAX_RETRIES: u32 = 99;

/// The longest call timeout: the native one.
const MAX_TIMEOUT: Duration = ontime_core::target::MAX_TIMEOUT;

/// `retries` as given; a 400 `INVALID RETRIES: <text>` for anything but 0 to 99.
pub fn retries(text: &str) -> Result<u32, Text> {
    text.parse::<u32>()
        .ok()
        .filter(|n| *n <= MAX_RETRIES)
        .ok_or_else(|| Text::bad_request(format!("INVALID RETRIES: {text}")))
}

/// The native policy that makes `retries` retries.
pub fn policy(retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: retries + 1,
        ..RetryPolicy::default()
    }
}

/// How many retries `policy` makes.
pub fn retries_of(policy: &RetryPolicy) -> u32 {
    policy.max_attempts.saturating_sub(1)
}

/// A subscriber's `timeout`; a 400 `INVALID TIMEOUT: <text>` unless more than 0 and at most
/// 900 seconds.
pub fn timeout(text: &str) -> Result<HumanDuration, Text> {
    seconds(text, MAX_TIMEOUT).ok_or_else(|| Text::bad_request(format!("INVALID TIMEOUT: {text}")))
}

/// An event's `max_lateness`; a 400 `INVALID MAX_LATENESS: <text>` unless more than 0 and
/// within the longest span ontime represents.
pub fn max_lateness(text: &str) -> Result<HumanDuration, Text> {
    seconds(text, ontime_core::limits::MAX_SPAN)
        .ok_or_else(|| Text::bad_request(format!("INVALID MAX_LATENESS: {text}")))
}

/// A number of seconds, to the millisecond, more than 0 and at most `max`.
fn seconds(text: &str, max: Duration) -> Option<HumanDuration> {
    let secs: f64 = text.trim().parse().ok()?;
    if !secs.is_finite() || secs > max.as_secs_f64() {
        return None;
    }
    let millis = (secs * 1000.0).round();
    // Also refuses a negative number, and one that rounds to no time at all.
    (millis >= 1.0).then(|| HumanDuration::from_millis(millis as u64))
}

/// `d` in seconds as the API shows it: `5`, `1.5`.
pub fn shown_seconds(d: Duration) -> String {
    let millis = d.as_millis();
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{}", millis as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_0_to_99() {
        assert_eq!(retries("0"), Ok(0));
        assert_eq!(retries("99"), Ok(99));
        assert_eq!(policy(2).max_attempts, 3);
        assert_eq!(retries_of(&policy(2)), 2);
        for bad in ["100", "-1", "1.5", "x", ""] {
            assert_eq!(
                retries(bad),
                Err(Text::bad_request(format!("INVALID RETRIES: {bad}")))
            );
        }
    }

    #[test]
    fn seconds_to_the_millisecond() {
        assert_eq!(timeout("5").unwrap().get(), Duration::from_secs(5));
        assert_eq!(timeout("0.25").unwrap().get(), Duration::from_millis(250));
        assert_eq!(timeout("900").unwrap().get(), Duration::from_secs(900));
        for bad in ["0", "0.0001", "-1", "901", "NaN", "inf", "x", ""] {
            assert!(timeout(bad).is_err(), "{bad}");
        }
        assert_eq!(
            max_lateness("86400").unwrap().get(),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            max_lateness("1e300"),
            Err(Text::bad_request("INVALID MAX_LATENESS: 1e300"))
        );
        assert_eq!(shown_seconds(Duration::from_secs(5)), "5");
        assert_eq!(shown_seconds(Duration::from_millis(1500)), "1.5");
    }
}
