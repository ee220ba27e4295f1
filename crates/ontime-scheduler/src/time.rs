//! Between wall-clock instants (what timers are due at) and the monotonic clock (what the
//! precision queue sleeps on).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// The monotonic instant at which the wall clock will read `at` (now, if it is past).
pub fn instant_of(at: DateTime<Utc>) -> Instant {
    let now = Instant::now();
    (at - Utc::now()).to_std().map_or(now, |ahead| now + ahead)
}

/// How far `at` lies ahead of now (zero if it is past).
pub fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}
