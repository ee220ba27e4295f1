//! Retry policy and the pure math behind it: which answers are retried, how long to wait,
//! and `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::duration::HumanDuration;
use crate::error::ValidationError;

/// The longest wait a `Retry-After` answer can impose, as long as `max_duration` may be: a
/// longer one (`Retry-After: 99999999999`) is held to it, so that every retry instant stays
/// a present-day instant plus at most 30 days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30 * 86_400);

/// How a failed call is retried. Every field has a default, so `{}` is a valid policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    #[schema(example = 5)]
    pub max_attempts: u32,
    /// Wait before the second attempt.
    #[schema(value_type = String, example = "1s")]
    pub initial_interval: HumanDuration,
    /// Each wait is the previous one times this.
    #[schema(example = 2.0)]
    pub multiplier: f64,
    /// No wait is longer than this.
    #[schema(value_type = String, example = "10m")]
    pub max_interval: HumanDuration,
    /// No attempt starts later than this after the due time.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "1h")]
    pub max_duration: Option<HumanDuration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_interval: HumanDuration::from_secs(1),
            multiplier: 2.0,
            max_interval: HumanDuration::from_secs(600),
            max_duration: None,
        }
    }
}

/// What one attempt came to, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptClass {
    /// 2xx.
    Success,
    /// 5xx, 408, 429, a timeout or a connection error: worth another try.
    Retryable,
    /// Any other 4xx (and 1xx/3xx that were not followed): trying again cannot help.
    Final,
}

impl AttemptClass {
    /// Classifies an HTTP status. 408 and 429 are retried: they say "not now", not "never".
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Success,
            408 | 429 => Self::Retryable,
            500..=599 => Self::Retryable,
            _ => Self::Final,
        }
    }
}

/// The verdict after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this wait.
    RetryAfter(Duration),
    /// Stop; the timer's occurrence has failed. The string says why, for the log.
    GiveUp(String),
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
    /// `initial × multiplier^(attempt−1)`, capped at `max_interval`. Deterministic; waits of
    /// many timers spread out by their own due times, so no jitter is added here.
    pub fn delay_for(&self, attempt: u32) -> Duration {
        let base = self.initial_interval.get().as_secs_f64();
        let exp = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(1000) as i32);
        let secs = (base * exp).min(self.max_interval.get().as_secs_f64());
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(self.max_interval.get())
    }

    /// Decides what follows failed attempt `attempt`, given the server's `Retry-After` (if
    /// any) and how long after the due time the next attempt would start.
    pub fn decide(
        &self,
        attempt: u32,
        class: AttemptClass,
        retry_after: Option<Duration>,
        since_due: Duration,
    ) -> RetryDecision {
        match class {
            AttemptClass::Success => return RetryDecision::GiveUp("succeeded".into()),
            AttemptClass::Final => {
                return RetryDecision::GiveUp("the answer is final (4xx)".into());
            }
            AttemptClass::Retryable => {}
        }
        if attempt >= self.max_attempts {
            return RetryDecision::GiveUp(format!(
                "gave up after {attempt} attempts (max_attempts)"
            ));
        }
        // Retry-After may ask for more than the policy would wait, never for less: the
        // policy protects the target too.
        let wait = retry_after.map_or_else(
            || self.delay_for(attempt),
            |ra| ra.min(MAX_RETRY_AFTER).max(self.delay_for(attempt)),
        );
        if let Some(max) = self.max_duration
            && since_due.saturating_add(wait) > max.get()
        {
            return RetryDecision::GiveUp(format!(
                "gave up: the next attempt would start after max_duration ({max})"
            ));
        }
        RetryDecision::RetryAfter(wait)
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(1..=100).contains(&self.max_attempts) {
            return Err(ValidationError::invalid(
                "max_attempts",
                "max_attempts must be between 1 and 100",
            ));
        }
        if !self.multiplier.is_finite() || !(1.0..=10.0).contains(&self.multiplier) {
            return Err(ValidationError::invalid(
                "multiplier",
                "multiplier must be between 1 and 10",
            ));
        }
        let day = Duration::from_secs(86_400);
        if self.initial_interval.get().is_zero() || self.initial_interval.get() > day {
            return Err(ValidationError::invalid(
                "initial_interval",
                "initial_interval must be more than 0 and at most 1d",
            ));
        }
        if self.max_interval < self.initial_interval || self.max_interval.get() > day {
            return Err(ValidationError::invalid(
                "max_interval",
                "max_interval must be at least initial_interval and at most 1d",
            ));
        }
        if let Some(d) = self.max_duration
            && (d.get().is_zero() || d.get() > 30 * day)
        {
            return Err(ValidationError::invalid(
                "max_duration",
                "max_duration must be more than 0 and at most 30d",
            ));
        }
        Ok(())
    }
}

/// Reads a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at: DateTime<Utc> = at.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_interval: HumanDuration::from_secs(1),
            multiplier: 2.0,
            max_interval: HumanDuration::from_secs(5),
            max_duration: None,
        }
    }

    #[test]
    fn a_huge_retry_after_is_held_to_thirty_days_without_overflow() {
        let p = RetryPolicy {
            max_duration: Some(HumanDuration::from_secs(60)),
            ..policy()
        };
        let huge = Some(Duration::from_secs(u64::MAX));
        let since_due = Duration::from_secs(u64::MAX);
        assert!(matches!(
            p.decide(1, AttemptClass::Retryable, huge, since_due),
            RetryDecision::GiveUp(_)
        ));
        assert_eq!(
            policy().decide(1, AttemptClass::Retryable, huge, Duration::ZERO),
            RetryDecision::RetryAfter(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn exponential_then_capped() {
        let p = policy();
        let waits: Vec<u64> = (1..=5).map(|a| p.delay_for(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn classification() {
        assert_eq!(AttemptClass::of_status(204), AttemptClass::Success);
        assert_eq!(AttemptClass::of_status(503), AttemptClass::Retryable);
        assert_eq!(AttemptClass::of_status(429), AttemptClass::Retryable);
        assert_eq!(AttemptClass::of_status(404), AttemptClass::Final);
        assert_eq!(AttemptClass::of_status(301), AttemptClass::Final);
    }

    #[test]
    fn decisions() {
        let p = policy();
        assert_eq!(
            p.decide(1, AttemptClass::Retryable, None, Duration::ZERO),
            RetryDecision::RetryAfter(Duration::from_secs(1))
        );
        assert!(matches!(
            p.decide(5, AttemptClass::Retryable, None, Duration::ZERO),
            RetryDecision::GiveUp(_)
        ));
        assert!(matches!(
            p.decide(1, AttemptClass::Final, None, Duration::ZERO),
            RetryDecision::GiveUp(_)
        ));
        // Retry-After lengthens the wait but never shortens it.
        assert_eq!(
            p.decide(
                3,
                AttemptClass::Retryable,
                Some(Duration::from_secs(30)),
                Duration::ZERO
            ),
            RetryDecision::RetryAfter(Duration::from_secs(30))
        );
        assert_eq!(
            p.decide(
                3,
                AttemptClass::Retryable,
                Some(Duration::from_secs(1)),
                Duration::ZERO
            ),
            RetryDecision::RetryAfter(Duration::from_secs(4))
        );
        let bounded = RetryPolicy {
            max_duration: Some(HumanDuration::from_secs(10)),
            ..p
        };
        assert!(matches!(
            bounded.decide(2, AttemptClass::Retryable, None, Duration::from_secs(9)),
            RetryDecision::GiveUp(_)
        ));
    }

    #[test]
    fn retry_after_forms() {
        let now: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn validation() {
        assert!(RetryPolicy::default().validate().is_ok());
        assert_eq!(
            RetryPolicy {
                max_attempts: 0,
                ..policy()
            }
            .validate()
            .unwrap_err()
            .field
            .as_deref(),
            Some("max_attempts")
        );
        assert_eq!(
            RetryPolicy {
                multiplier: 0.5,
                ..policy()
            }
            .validate()
            .unwrap_err()
            .field
            .as_deref(),
            Some("multiplier")
        );
        assert_eq!(
            RetryPolicy {
                initial_interval: HumanDuration::ZERO,
                ..policy()
            }
            .validate()
            .unwrap_err()
            .field
            .as_deref(),
            Some("initial_interval")
        );
    }
}
