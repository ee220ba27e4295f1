//! Trying again while NATS gets ready: a server that starts after us, a cluster electing its
//! leaders or placing new streams.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// Runs `attempt` until it succeeds or `patience` has passed, waiting `first_delay` after the
/// first failure and twice as long after each next one, up to 2 s. Each failure is logged with
/// `what`; the last one is returned.
pub async fn patiently<T, E, F, Fut>(
    patience: Duration,
    first_delay: Duration,
    what: &str,
    mut attempt: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + patience;
    let mut delay = first_delay;
    loop {
        match attempt().await {
            Err(e) if Instant::now() < deadline => {
                tracing::info!(error = %e, "{what}: not yet; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tries_until_it_works_or_patience_runs_out() {
        let mut tries = 0;
        let done: Result<u32, String> = patiently(
            Duration::from_secs(60),
            Duration::from_millis(100),
            "x",
            || {
                tries += 1;
                let now = tries;
                async move { if now < 4 { Err("no".into()) } else { Ok(now) } }
            },
        )
        .await;
        assert_eq!(done, Ok(4));

        let started = tokio::time::Instant::now();
        let failed: Result<(), String> = patiently(
            Duration::from_secs(10),
            Duration::from_millis(100),
            "x",
            || async { Err("never".to_owned()) },
        )
        .await;
        assert_eq!(failed, Err("never".to_owned()));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(10) && waited < Duration::from_secs(13),
            "{waited:?}"
        );
    }
}
