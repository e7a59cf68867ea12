//! The retry policy the framework's retried work shares: event subscribers, webhook
//! deliveries, the undos of a [`Compensation`](crate::Compensation). One [`Retry`], one
//! backoff.

use std::time::Duration;

/// How failing work is retried: `attempts` in all, waiting `base`, `2 × base`,
/// `4 × base`… (at most `max`, with jitter) between them.
///
/// ```
/// use arc_runtime::config::Retry;
/// use std::time::Duration;
///
/// let patient = Retry { attempts: 10, base: Duration::from_secs(1), max: Duration::from_secs(60) };
/// let quick = Retry { attempts: 3, ..Retry::default() };
/// # let _ = (patient, quick);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included (at least 1: 0 counts as 1).
    pub attempts: u32,
    /// The wait after the first failure.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Retry {
    /// 5 attempts, 200 ms after the first failure, doubling to at most 30 s.
    fn default() -> Self {
        Retry {
            attempts: 5,
            base: Duration::from_millis(200),
            max: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// This policy with at least one attempt: what the builders that take a [`Retry`] keep.
    pub(crate) fn at_least_once(self) -> Retry {
        Retry {
            attempts: self.attempts.max(1),
            ..self
        }
    }

    /// The wait after failed attempt `n` (1-based): exponential, capped, with full jitter in
    /// its upper half so retrying workers do not move in step.
    pub(crate) fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX));
        let wait = exp.min(self.max);
        let half = wait / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_the_cap_with_jitter_in_its_upper_half() {
        let retry = Retry {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for (n, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let wait = retry.backoff(n);
            let full = Duration::from_millis(full);
            assert!(wait >= full / 2 && wait <= full, "attempt {n}: {wait:?}");
        }
    }

    #[test]
    fn zero_attempts_is_one() {
        let none = Retry {
            attempts: 0,
            ..Retry::default()
        };
        assert_eq!(none.at_least_once().attempts, 1);
    }
}
