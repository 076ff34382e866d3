//! Typed settings of the HTTP API, with documented defaults and a check that they make sense.
//!
//! They are passed explicitly ([`ApiState::with_config`](super::ApiState::with_config)) rather
//! than read from the environment, so a test can run a server with a tiny body limit next to
//! one with the defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::access::{AuthConfig, AuthConfigError, RateLimitConfig};
use super::subscribe::SubscribeConfig;
use crate::QueryLimits;

/// HTTP API settings. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Largest accepted body of `POST /v1/ingest/{stream}`, in bytes; larger bodies answer
    /// `413`. Default: 16 MiB.
    pub max_ingest_body_bytes: usize,
    /// How long an ingest request waits for the workers to take its records before it
    /// answers `503`, in milliseconds. Default: 10,000.
    pub ingest_timeout_ms: u64,
    /// `GET /v1/subscribe/{projection}`: heartbeat interval and queue capacity.
    pub subscribe: SubscribeConfig,
    /// How requests are authenticated. Default: not configured, so every endpoint but
    /// `/healthz` answers `401` and [`serve`](crate::serve) refuses to start; choose JWT or
    /// unauthenticated loopback mode explicitly.
    pub auth: AuthConfig,
    /// The per-client rate limit. Default: 100 requests/s, bursts of 200.
    pub rate_limit: RateLimitConfig,
    /// Rows a `POST /v1/sql` query without its own `LIMIT` answers at most; the response
    /// says when rows were cut (`"truncated": true`, header `tributary-truncated`). An
    /// explicit `LIMIT` wins. Default: 10,000.
    pub sql_row_limit: usize,
    /// How long one query may plan and run before it is cancelled with `408`, in
    /// milliseconds. Default: 30,000.
    pub sql_timeout_ms: u64,
    /// Memory one query's operators (sorts, joins, aggregations) may reserve, in bytes;
    /// nothing spills to disk, a query that needs more is cancelled with `413`.
    /// Default: 256 MiB.
    pub sql_memory_limit_bytes: usize,
    /// How long a query with `min_ticket` waits for the projections to include it before it
    /// answers `503`, in milliseconds. Default: 10,000.
    pub min_ticket_wait_ms: u64,
}

impl ApiConfig {
    /// Default `max_ingest_body_bytes`: 16 MiB.
    pub const DEFAULT_MAX_INGEST_BODY_BYTES: usize = 16 << 20;
    /// Default `ingest_timeout_ms`: 10 s.
    pub const DEFAULT_INGEST_TIMEOUT_MS: u64 = 10_000;
    /// Default `sql_row_limit`: 10,000 rows.
    pub const DEFAULT_SQL_ROW_LIMIT: usize = 10_000;
    /// Default `sql_timeout_ms`: 30 s.
    pub const DEFAULT_SQL_TIMEOUT_MS: u64 = 30_000;
    /// Default `sql_memory_limit_bytes`: 256 MiB.
    pub const DEFAULT_SQL_MEMORY_LIMIT_BYTES: usize = 256 << 20;
    /// Default `min_ticket_wait_ms`: 10 s.
    pub const DEFAULT_MIN_TICKET_WAIT_MS: u64 = 10_000;

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), ApiConfigError> {
        if self.max_ingest_body_bytes == 0 {
            return Err(ApiConfigError::ZeroIngestBodyLimit);
        }
        if self.ingest_timeout_ms == 0 {
            return Err(ApiConfigError::ZeroIngestTimeout);
        }
        self.subscribe.validate()?;
        self.auth.validate()?;
        self.rate_limit.validate()?;
        let zero = [
            ("sql_row_limit", self.sql_row_limit == 0),
            ("sql_timeout_ms", self.sql_timeout_ms == 0),
            ("sql_memory_limit_bytes", self.sql_memory_limit_bytes == 0),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, is_zero)| *is_zero) {
            return Err(ApiConfigError::ZeroSqlLimit(name));
        }
        Ok(())
    }

    /// The bounds every SQL query runs under.
    pub fn query_limits(&self) -> QueryLimits {
        QueryLimits {
            row_limit: self.sql_row_limit,
            timeout: Duration::from_millis(self.sql_timeout_ms),
            memory_limit_bytes: self.sql_memory_limit_bytes,
            min_ticket_wait: Duration::from_millis(self.min_ticket_wait_ms),
        }
    }

    /// `ingest_timeout_ms` as a duration.
    pub fn ingest_timeout(&self) -> Duration {
        Duration::from_millis(self.ingest_timeout_ms)
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_ingest_body_bytes: Self::DEFAULT_MAX_INGEST_BODY_BYTES,
            ingest_timeout_ms: Self::DEFAULT_INGEST_TIMEOUT_MS,
            subscribe: SubscribeConfig::default(),
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
            sql_row_limit: Self::DEFAULT_SQL_ROW_LIMIT,
            sql_timeout_ms: Self::DEFAULT_SQL_TIMEOUT_MS,
            sql_memory_limit_bytes: Self::DEFAULT_SQL_MEMORY_LIMIT_BYTES,
            min_ticket_wait_ms: Self::DEFAULT_MIN_TICKET_WAIT_MS,
        }
    }
}

/// Why an [`ApiConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiConfigError {
    /// A zero body limit would refuse every ingest request.
    #[error("max_ingest_body_bytes must be at least 1")]
    ZeroIngestBodyLimit,
    /// A zero timeout would fail every ingest request that has records.
    #[error("ingest_timeout_ms must be at least 1")]
    ZeroIngestTimeout,
    /// A zero heartbeat interval would send nothing but heartbeats.
    #[error("subscribe.heartbeat_interval_ms must be at least 1")]
    ZeroHeartbeatInterval,
    /// A zero queue would disconnect every subscriber at the first change.
    #[error("subscribe.queue_capacity must be at least 1")]
    ZeroSubscribeQueue,
    /// The authentication or rate-limit settings were refused.
    #[error(transparent)]
    Access(#[from] AuthConfigError),
    /// A zero SQL row limit, timeout or memory limit would refuse every query.
    #[error("{0} must be at least 1")]
    ZeroSqlLimit(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values_and_zero_is_refused() {
        let config = ApiConfig::default();
        assert_eq!(config.max_ingest_body_bytes, 16 * 1024 * 1024);
        assert_eq!(config.ingest_timeout(), Duration::from_secs(10));
        assert_eq!(config.validate(), Ok(()));
        let zero_body = ApiConfig {
            max_ingest_body_bytes: 0,
            ..ApiConfig::default()
        };
        assert_eq!(zero_body.validate(), Err(ApiConfigError::ZeroIngestBodyLimit));
        let zero_timeout = ApiConfig {
            ingest_timeout_ms: 0,
            ..ApiConfig::default()
        };
        assert_eq!(zero_timeout.validate(), Err(ApiConfigError::ZeroIngestTimeout));
        let zero_rows = ApiConfig {
            sql_row_limit: 0,
            ..ApiConfig::default()
        };
        assert_eq!(zero_rows.validate(), Err(ApiConfigError::ZeroSqlLimit("sql_row_limit")));
        let limits = config.query_limits();
        assert_eq!(
            limits,
            crate::QueryLimits::default(),
            "the engine's defaults are the API's"
        );
        assert_eq!(limits.timeout, Duration::from_secs(30));
        assert_eq!(limits.memory_limit_bytes, 256 * 1024 * 1024);
    }

    #[test]
    fn missing_fields_take_their_defaults() -> Result<(), serde_json::Error> {
        let config: ApiConfig = serde_json::from_str(r#"{"ingest_timeout_ms": 500}"#)?;
        assert_eq!(config.ingest_timeout_ms, 500);
        assert_eq!(config.max_ingest_body_bytes, ApiConfig::DEFAULT_MAX_INGEST_BODY_BYTES);
        Ok(())
    }
}
