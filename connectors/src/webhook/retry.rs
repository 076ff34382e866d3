//! What a call's result means (deliver, retry, give up) and how long to wait before a retry.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// The meaning of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx: the endpoint has the action.
    Delivered,
    /// Worth another attempt: 429, 5xx, a timeout, a connection error, an open breaker.
    Retry {
        /// Why, for the log and the dead letter.
        error: String,
        /// A `Retry-After` the endpoint asked for (429 only).
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (other 4xx, 1xx/3xx): dead-letter at once.
    Permanent {
        /// Why.
        error: String,
    },
}

/// Classifies an HTTP status; `retry_after` is the response's `Retry-After` header, if any.
pub(crate) fn classify_status(status: u16, retry_after: Option<&str>) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        429 => Verdict::Retry {
            error: "HTTP 429 Too Many Requests".into(),
            // Only the delay-seconds form; an HTTP date is rare for 429 and falls back to the
            // schedule.
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        500..=599 => Verdict::Retry {
            error: format!("HTTP {status} (server error)"),
            retry_after: None,
        },
        400..=499 => Verdict::Permanent {
            error: format!("HTTP {status} (client error: the request is refused, retrying cannot help)"),
        },
        _ => Verdict::Permanent {
            error: format!("HTTP {status} (unexpected status: only 2xx counts as delivered)"),
        },
    }
}

/// The waits before each retry: the configured schedule, jittered, stretched by `Retry-After`.
#[derive(Debug, Clone)]
pub(crate) struct RetrySchedule {
    delays: Vec<Duration>,
    jitter: f64,
    max_retry_after: Duration,
    seed: RandomState,
}

impl RetrySchedule {
    pub(crate) fn new(delays_ms: &[u64], jitter: f64, max_retry_after_ms: u64) -> Self {
        Self {
            delays: delays_ms.iter().copied().map(Duration::from_millis).collect(),
            jitter,
            max_retry_after: Duration::from_millis(max_retry_after_ms),
            seed: RandomState::new(),
        }
    }

    /// The wait before retry number `retry` (0-based) of action `id`, or `None` once the
    /// schedule is exhausted. The jitter factor is a hash of `(id, retry)` under a per-process
    /// random seed: spread over actions, and no shared random-number state between tasks.
    pub(crate) fn delay(&self, retry: usize, id: &str, retry_after: Option<Duration>) -> Option<Duration> {
        let base = *self.delays.get(retry)?;
        // 53 random bits → a uniform fraction in [0, 1).
        let unit = (self.seed.hash_one((id, retry)) >> 11) as f64 / (1u64 << 53) as f64;
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        let jittered = base.mul_f64(factor);
        Some(match retry_after {
            Some(asked) => jittered.max(asked.min(self.max_retry_after)),
            None => jittered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_deliver_retry_or_give_up() {
        assert_eq!(classify_status(204, None), Verdict::Delivered);
        assert!(matches!(
            classify_status(503, None),
            Verdict::Retry { retry_after: None, .. }
        ));
        assert_eq!(
            classify_status(429, Some(" 3 ")),
            Verdict::Retry {
                error: "HTTP 429 Too Many Requests".into(),
                retry_after: Some(Duration::from_secs(3)),
            }
        );
        assert!(matches!(
            classify_status(429, Some("Wed, 21 Oct 2026 07:28:00 GMT")),
            Verdict::Retry { retry_after: None, .. }
        ));
        let Verdict::Permanent { error } = classify_status(404, None) else {
            panic!("404 is permanent");
        };
        assert!(error.contains("retrying cannot help"), "{error}");
        assert!(matches!(classify_status(302, None), Verdict::Permanent { .. }));
    }

    #[test]
    fn delays_follow_the_schedule_within_the_jitter_and_end() {
        let schedule = RetrySchedule::new(&[1_000, 2_000, 4_000, 8_000, 16_000], 0.2, 60_000);
        for id in ["a:0", "a:1", "b:7"] {
            for (retry, base) in [1_000u64, 2_000, 4_000, 8_000, 16_000].into_iter().enumerate() {
                let d = schedule.delay(retry, id, None).map(|d| d.as_secs_f64() * 1_000.0);
                let Some(d) = d else {
                    panic!("retry {retry} is scheduled")
                };
                let base = base as f64;
                assert!(d >= base * 0.8 - 1e-6 && d <= base * 1.2 + 1e-6, "{d} vs {base}");
            }
            assert_eq!(schedule.delay(5, id, None), None);
        }
        let exact = RetrySchedule::new(&[10], 0.0, 1_000);
        assert_eq!(exact.delay(0, "x", None), Some(Duration::from_millis(10)));
        assert_eq!(
            exact.delay(0, "x", Some(Duration::from_millis(500))),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            exact.delay(0, "x", Some(Duration::from_secs(9))),
            Some(Duration::from_secs(1)),
            "capped"
        );
        assert_eq!(
            exact.delay(0, "x", Some(Duration::from_millis(1))),
            Some(Duration::from_millis(10))
        );
    }
}
