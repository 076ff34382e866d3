//! [`WebhookConfig`]: one endpoint, its timeout, retry schedule, queue and circuit breaker.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::WebhookError;

/// How actions are POSTed to one webhook endpoint. Every field has a default (shown on it);
/// only `url` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// The endpoint, `http://host:port/path` or `https://host:port/path`. Required. An
    /// `https` endpoint must present a certificate for its host name that chains to the
    /// platform's roots or to [`root_certificate`](Self::root_certificate).
    pub url: String,
    /// A PEM file of one or more extra root certificates to trust for `https` (a private CA,
    /// or a self-signed endpoint), besides the platform's. Default none.
    pub root_certificate: Option<PathBuf>,
    /// Per-call timeout, connect to last byte, in milliseconds. Default 30,000 (30 s).
    pub timeout_ms: u64,
    /// The waits before each retry, in milliseconds: one retry per entry, then the action is
    /// dead-lettered. Default `[1000, 2000, 4000, 8000, 16000]` (exponential, 6 attempts).
    pub retry_delays_ms: Vec<u64>,
    /// Each wait is scaled by a random factor in `[1 − jitter, 1 + jitter]` so that many
    /// actions failing together do not retry together. Default 0.2; must be in `[0, 1)`.
    pub jitter: f64,
    /// The longest a `429 Too Many Requests` answer's `Retry-After` (seconds) may stretch a
    /// wait, in milliseconds; a shorter `Retry-After` than the schedule is ignored. Default
    /// 60,000.
    pub max_retry_after_ms: u64,
    /// Actions waiting for delivery; when full, a new action is dead-lettered at once (the
    /// dataflow never waits). Default 1,024.
    pub queue_capacity: usize,
    /// Actions being attempted or waiting for a retry at once. Default 64.
    pub max_in_flight: usize,
    /// The endpoint's circuit breaker.
    pub breaker: BreakerConfig,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            root_certificate: None,
            timeout_ms: 30_000,
            retry_delays_ms: vec![1_000, 2_000, 4_000, 8_000, 16_000],
            jitter: 0.2,
            max_retry_after_ms: 60_000,
            queue_capacity: 1_024,
            max_in_flight: 64,
            breaker: BreakerConfig::default(),
        }
    }
}

/// When the circuit breaker opens and how long it stays open.
///
/// After `failure_threshold` consecutive failed calls the breaker opens: for `cool_down_ms`
/// every attempt fails fast without a call (it counts as an attempt, and the action goes on
/// with its retry schedule, so it is retried later or dead-lettered after its last attempt).
/// Then one call is let through as a probe (half-open): success closes the breaker, failure
/// opens it for another cool-down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed calls that open the breaker. Default 5; at least 1.
    pub failure_threshold: u32,
    /// How long it stays open before a probe, in milliseconds. Default 30,000.
    pub cool_down_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down_ms: 30_000,
        }
    }
}

impl WebhookConfig {
    /// The default configuration for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Checks every field; the sink refuses to start on an invalid configuration.
    pub fn validate(&self) -> Result<(), WebhookError> {
        let invalid = |reason: String| Err(WebhookError::Config(reason));
        let url =
            reqwest::Url::parse(&self.url).map_err(|e| WebhookError::Config(format!("url `{}`: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return invalid(format!(
                "url `{}`: only http:// and https:// endpoints are supported",
                self.url
            ));
        }
        if url.host().is_none() {
            return invalid(format!("url `{}`: no host", self.url));
        }
        if self.timeout_ms == 0 {
            return invalid("timeout_ms must be positive".into());
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return invalid(format!("jitter must be in [0, 1), not {}", self.jitter));
        }
        if self.queue_capacity == 0 || self.max_in_flight == 0 {
            return invalid("queue_capacity and max_in_flight must be positive".into());
        }
        if self.breaker.failure_threshold == 0 {
            return invalid("breaker.failure_threshold must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design_and_partial_json_fills_them() -> anyhow::Result<()> {
        let config: WebhookConfig =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:9/hook", "breaker": {"cool_down_ms": 5}}"#)?;
        assert_eq!(config.timeout(), Duration::from_secs(30));
        assert_eq!(config.retry_delays_ms, [1_000, 2_000, 4_000, 8_000, 16_000]);
        assert_eq!(
            config.breaker,
            BreakerConfig {
                failure_threshold: 5,
                cool_down_ms: 5
            }
        );
        config.validate()?;
        assert!(serde_json::from_str::<WebhookConfig>(r#"{"url": "x", "retries": 3}"#).is_err());
        Ok(())
    }

    #[test]
    fn invalid_values_are_refused_with_the_field_named() {
        let base = WebhookConfig::new("http://127.0.0.1:9/");
        let cases = [
            (WebhookConfig::new("not a url"), "url `not a url`"),
            (WebhookConfig::new("ftp://127.0.0.1/"), "only http:// and https://"),
            (
                WebhookConfig {
                    timeout_ms: 0,
                    ..base.clone()
                },
                "timeout_ms",
            ),
            (
                WebhookConfig {
                    jitter: 1.0,
                    ..base.clone()
                },
                "jitter",
            ),
            (
                WebhookConfig {
                    queue_capacity: 0,
                    ..base.clone()
                },
                "queue_capacity",
            ),
            (
                WebhookConfig {
                    breaker: BreakerConfig {
                        failure_threshold: 0,
                        cool_down_ms: 1,
                    },
                    ..base.clone()
                },
                "failure_threshold",
            ),
        ];
        for (config, expected) in cases {
            let error = config
                .validate()
                .map(|()| String::new())
                .unwrap_or_else(|e| e.to_string());
            assert!(error.contains(expected), "{error:?} should mention {expected:?}");
        }
    }
}
