//! The time a caller has left. A request on Lambda must answer before the invocation ends,
//! and a WeChat Pay call with its retries could take longer than that: the hosting layer runs
//! each request within a deadline, and every WeChat call fits its attempts, their timeouts
//! and its backoff into what is left.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `f` with `deadline` as the time its WeChat calls must finish by.
pub async fn within<F: Future>(deadline: Instant, f: F) -> F::Output {
    DEADLINE.scope(deadline, f).await
}

/// Runs `f` within `deadline`, as [`within`] does, and stops it there: `None` when the
/// deadline passed first. For work whose every step is one conditional write or transaction,
/// stopping between steps is what a crash there would do, which a retry heals; an answer past
/// the deadline would reach nobody.
pub async fn bounded<F: Future>(deadline: Instant, f: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, within(deadline, f)).await.ok()
}

/// Time left before the current deadline (`None`: no deadline is set).
pub fn remaining() -> Option<Duration> {
    DEADLINE.try_with(|d| d.saturating_duration_since(Instant::now())).ok()
}

/// The timeout for one attempt: the configured one, or less when the deadline is nearer.
pub fn attempt_timeout(configured: Duration) -> Duration {
    remaining().map_or(configured, |left| left.min(configured))
}

/// Whether another attempt after `wait` still has `at_least` of time to run.
pub fn allows(wait: Duration, at_least: Duration) -> bool {
    remaining().is_none_or(|left| left > wait + at_least)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_past_the_deadline_is_stopped() {
        let slow = bounded(Instant::now() + Duration::from_millis(50), tokio::time::sleep(Duration::from_secs(5)));
        let started = std::time::Instant::now();
        assert!(slow.await.is_none());
        assert!(started.elapsed() < Duration::from_secs(1));
        let quick = bounded(Instant::now() + Duration::from_secs(5), async { 7 });
        assert_eq!(quick.await, Some(7));
    }

    #[tokio::test]
    async fn calls_fit_the_time_left() {
        assert_eq!(remaining(), None);
        assert_eq!(attempt_timeout(Duration::from_secs(10)), Duration::from_secs(10));
        within(Instant::now() + Duration::from_millis(500), async {
            let t = attempt_timeout(Duration::from_secs(10));
            assert!(t <= Duration::from_millis(500), "{t:?}");
            assert!(!allows(Duration::from_millis(400), Duration::from_millis(200)));
            assert!(allows(Duration::from_millis(10), Duration::from_millis(100)));
        })
        .await;
    }
}
