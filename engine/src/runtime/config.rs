//! Runtime configuration with documented defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::EngineError;

/// How the workers run. Every field has a default (see [`RuntimeConfig::default`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeConfig {
    /// Worker threads. Default: the number of available cores.
    pub workers: usize,
    /// Close an epoch after this many milliseconds. Default: 10 ms (bounds freshness).
    pub epoch_interval_ms: u64,
    /// ...or once a worker has ingested this many records in it. Default: 100,000.
    pub epoch_max_records: usize,
    /// Stop polling sources while the inputs are this many epochs ahead of the
    /// projections. Default: 8.
    pub max_epochs_in_flight: u64,
    /// Records a reader may emit per poll. Default: 4,096.
    pub poll_budget: usize,
    /// How long an idle worker parks between polls, in milliseconds. Default: 1 ms.
    pub idle_park_ms: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            epoch_interval_ms: 10,
            epoch_max_records: 100_000,
            max_epochs_in_flight: 8,
            poll_budget: 4_096,
            idle_park_ms: 1,
        }
    }
}

impl RuntimeConfig {
    /// The defaults with `workers` worker threads.
    pub fn with_workers(workers: usize) -> Self {
        Self {
            workers,
            ..Self::default()
        }
    }

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |what: &str| Err(EngineError::Config(what.to_string()));
        if self.workers == 0 {
            return bad("workers must be at least 1");
        }
        if self.epoch_interval_ms == 0 {
            return bad("epoch_interval_ms must be at least 1");
        }
        if self.epoch_max_records == 0 || self.poll_budget == 0 {
            return bad("epoch_max_records and poll_budget must be at least 1");
        }
        if self.max_epochs_in_flight == 0 {
            return bad("max_epochs_in_flight must be at least 1");
        }
        Ok(())
    }

    pub(crate) fn epoch_interval(&self) -> Duration {
        Duration::from_millis(self.epoch_interval_ms)
    }

    pub(crate) fn idle_park(&self) -> Duration {
        Duration::from_millis(self.idle_park_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zero_workers_is_not() {
        assert!(RuntimeConfig::default().validate().is_ok());
        let err = RuntimeConfig::with_workers(0).validate().unwrap_err();
        assert!(err.to_string().contains("workers must be at least 1"));
        let cfg: RuntimeConfig = serde_json::from_str(r#"{"workers": 3}"#).expect("parses");
        assert_eq!(cfg.epoch_interval_ms, 10);
        assert_eq!(cfg.workers, 3);
    }
}
