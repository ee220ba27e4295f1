//! Flow limits: at most so many calls a second, and so many at once, to the targets of a
//! namespace, or to one host from it. Calls over a limit wait for their turn (their lateness
//! shows it); none fails because of a limit.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ValidationError;

/// The highest rate a limit may set, in calls per second.
pub const MAX_RATE: f64 = 100_000.0;
/// The lowest: one call a day.
pub const MIN_RATE: f64 = 1.0 / 86_400.0;
/// The most calls a limit may allow at once.
pub const MAX_CONCURRENCY: u32 = 10_000;

/// A flow limit. At least one of the two is set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowLimit {
    /// At most this many calls a second (a fraction is allowed: `0.5` is one call every two
    /// seconds), spaced evenly: calls start at least `1/rate` seconds apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 100.0)]
    pub rate: Option<f64>,
    /// At most this many calls in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 10)]
    pub concurrency: Option<u32>,
}

impl FlowLimit {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.rate.is_none() && self.concurrency.is_none() {
            return Err(ValidationError::invalid(
                "rate",
                "a limit sets `rate`, `concurrency` or both",
            ));
        }
        if let Some(rate) = self.rate
            && !(MIN_RATE..=MAX_RATE).contains(&rate)
        {
            return Err(ValidationError::invalid(
                "rate",
                format!("calls a second, from {MIN_RATE:e} (one a day) to {MAX_RATE}"),
            ));
        }
        if let Some(concurrency) = self.concurrency
            && !(1..=MAX_CONCURRENCY).contains(&concurrency)
        {
            return Err(ValidationError::invalid(
                "concurrency",
                format!("calls at once, from 1 to {MAX_CONCURRENCY}"),
            ));
        }
        Ok(())
    }

    /// The gap between two calls' starts under `rate`.
    pub fn spacing(&self) -> Option<std::time::Duration> {
        self.rate
            .map(|rate| std::time::Duration::from_secs_f64(1.0 / rate))
    }
}

/// The host a limit names, as a URL gives it (lower-cased, no port): `Err` when `host` is
/// not one.
pub fn host(host: &str) -> Result<String, ValidationError> {
    let parsed = url::Host::parse(host)
        .map_err(|e| ValidationError::invalid("host", format!("not a host name: {e}")))?;
    let text = parsed.to_string();
    if text != host.to_ascii_lowercase() || text.is_empty() {
        return Err(ValidationError::invalid(
            "host",
            "a host name or address as URLs write it (no port)",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(rate: Option<f64>, concurrency: Option<u32>) -> FlowLimit {
        FlowLimit { rate, concurrency }
    }

    #[test]
    fn a_limit_sets_a_rate_or_a_concurrency_within_bounds() {
        assert!(limit(Some(100.0), None).validate().is_ok());
        assert!(limit(None, Some(1)).validate().is_ok());
        assert!(limit(Some(0.5), Some(10)).validate().is_ok());
        for (bad, field) in [
            (limit(None, None), "rate"),
            (limit(Some(0.0), None), "rate"),
            (limit(Some(-1.0), None), "rate"),
            (limit(Some(f64::NAN), None), "rate"),
            (limit(Some(MAX_RATE * 2.0), None), "rate"),
            (limit(None, Some(0)), "concurrency"),
            (limit(None, Some(MAX_CONCURRENCY + 1)), "concurrency"),
        ] {
            assert_eq!(
                bad.validate().unwrap_err().field.as_deref(),
                Some(field),
                "{bad:?}"
            );
        }
        assert_eq!(
            limit(Some(4.0), None).spacing(),
            Some(std::time::Duration::from_millis(250))
        );
    }

    #[test]
    fn hosts_are_named_as_urls_give_them() {
        assert_eq!(host("api.example.com").unwrap(), "api.example.com");
        assert_eq!(host("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(host("[::1]").unwrap(), "[::1]");
        assert_eq!(host("API.Example.com").unwrap(), "api.example.com");
        for bad in ["a b", "", "example.com:80", "a/b"] {
            assert!(host(bad).is_err(), "{bad}");
        }
    }
}
