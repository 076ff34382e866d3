//! A token bucket per client: `burst` requests at once, refilled at `requests_per_second`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::config::RateLimitConfig;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Per-client token buckets (see the module docs).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(config: &RateLimitConfig) -> Self {
        Self {
            rate: f64::from(config.requests_per_second),
            burst: f64::from(config.burst),
            max_clients: config.max_clients,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `client`'s bucket, or says how long until there is one.
    pub(crate) fn check(&self, client: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= self.max_clients && !buckets.contains_key(client) {
            // A bucket that has refilled is the same as no bucket: forget those.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| refilled(b, now, rate, burst) < burst);
        }
        let bucket = buckets.entry(client.to_string()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        bucket.tokens = refilled(bucket, now, self.rate, self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
    }
}

fn refilled(bucket: &Bucket, now: Instant, rate: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
    (bucket.tokens + elapsed * rate).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rps: u32, burst: u32, max_clients: usize) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            requests_per_second: rps,
            burst,
            max_clients,
        })
    }

    #[test]
    fn burst_then_refusal_with_the_wait_then_refill() {
        let limiter = limiter(2, 3, 10);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("alice", t0), Ok(()));
        }
        assert_eq!(limiter.check("alice", t0), Err(Duration::from_millis(500)));
        // Another client has its own bucket.
        assert_eq!(limiter.check("bob", t0), Ok(()));
        // Half a second later one request is due again, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check("alice", t1), Ok(()));
        assert!(limiter.check("alice", t1).is_err());
    }

    #[test]
    fn full_buckets_are_forgotten_past_max_clients() {
        let limiter = limiter(1, 1, 2);
        let t0 = Instant::now();
        assert_eq!(limiter.check("a", t0), Ok(()));
        assert_eq!(limiter.check("b", t0), Ok(()));
        let later = t0 + Duration::from_secs(5);
        assert_eq!(limiter.check("c", later), Ok(()));
        let tracked = limiter.buckets.lock().map(|b| b.len()).unwrap_or_default();
        assert_eq!(tracked, 1);
    }
}
