//! How often and how fast a failed delivery is tried again.

use std::time::Duration;

use serde::Deserialize;

/// Retry policy of a notifier, the same for each of its channels.
///
/// The wait before retry `n` (1-based) is `backoff * 2^(n-1)`, at most
/// `max_backoff`, then scaled by a random factor between 0.5 and 1 so that
/// notifiers that failed together do not retry together. A receiver's
/// `Retry-After` in seconds raises the wait, up to `max_backoff`.
///
/// In TOML, under `[notify.retry]`:
///
/// ```toml
/// attempts = 5
/// backoff = "2s"
/// max_backoff = "1m"
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per channel and alert, including the first; 3 by default.
    /// Must be at least 1.
    pub attempts: u32,
    /// Wait before the first retry; 1s by default.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub backoff: Duration,
    /// Maximum wait between attempts; 30s by default.
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 3, backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// Returns the wait before retry `retry` (1-based), with jitter, raised
    /// to `retry_after` if the receiver sent one.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        let base = self.backoff.saturating_mul(1 << doublings).min(self.max_backoff);
        let jittered = base.mul_f64(0.5 + fastrand::f64() / 2.0);
        match retry_after {
            Some(requested) => jittered.max(requested.min(self.max_backoff)),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_within_jitter() {
        let policy = RetryPolicy::default();
        for (retry, full) in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (40, 30.0)] {
            let delay = policy.delay(retry, None).as_secs_f64();
            assert!(delay >= full / 2.0, "retry {retry}: {delay}s");
            assert!(delay <= full, "retry {retry}: {delay}s");
        }
    }

    #[test]
    fn delay_honours_retry_after_up_to_max() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, Some(Duration::from_secs(20))), Duration::from_secs(20));
        assert_eq!(policy.delay(1, Some(Duration::from_secs(300))), Duration::from_secs(30));
    }
}
