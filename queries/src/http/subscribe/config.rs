//! Settings of `GET /v1/subscribe/{projection}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::ApiConfigError;

/// Subscription settings. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscribeConfig {
    /// How often a subscriber gets a `heartbeat` when nothing else was sent, in
    /// milliseconds: it keeps proxies from closing an idle stream and tells the client how far
    /// it is caught up. Default: 15,000.
    pub heartbeat_interval_ms: u64,
    /// How many committed frontiers' changes may wait for one subscriber. A subscriber whose
    /// queue is full when a frontier commits is disconnected with
    /// `slow consumer: N changes behind` rather than buffered without bound. Default: 1,024
    /// (about 10 s of changes at the default 10 ms epoch).
    pub queue_capacity: usize,
}

impl SubscribeConfig {
    /// Default `heartbeat_interval_ms`: 15 s.
    pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 15_000;
    /// Default `queue_capacity`: 1,024 change batches.
    pub const DEFAULT_QUEUE_CAPACITY: usize = 1_024;

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), ApiConfigError> {
        if self.heartbeat_interval_ms == 0 {
            return Err(ApiConfigError::ZeroHeartbeatInterval);
        }
        if self.queue_capacity == 0 {
            return Err(ApiConfigError::ZeroSubscribeQueue);
        }
        Ok(())
    }

    /// `heartbeat_interval_ms` as a duration.
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: Self::DEFAULT_HEARTBEAT_INTERVAL_MS,
            queue_capacity: Self::DEFAULT_QUEUE_CAPACITY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values_and_zero_is_refused() -> Result<(), serde_json::Error> {
        let config = SubscribeConfig::default();
        assert_eq!(config.heartbeat_interval(), Duration::from_secs(15));
        assert_eq!(config.queue_capacity, 1024);
        assert_eq!(config.validate(), Ok(()));
        let zero_heartbeat: SubscribeConfig = serde_json::from_str(r#"{"heartbeat_interval_ms": 0}"#)?;
        assert_eq!(zero_heartbeat.validate(), Err(ApiConfigError::ZeroHeartbeatInterval));
        assert_eq!(zero_heartbeat.queue_capacity, SubscribeConfig::DEFAULT_QUEUE_CAPACITY);
        let zero_queue = SubscribeConfig {
            queue_capacity: 0,
            ..SubscribeConfig::default()
        };
        assert_eq!(zero_queue.validate(), Err(ApiConfigError::ZeroSubscribeQueue));
        Ok(())
    }
}
