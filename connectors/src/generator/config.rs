//! Typed configuration of the sensor generator.

use serde::{Deserialize, Serialize};
use tributary_engine::EngineError;

/// Sensor generator settings. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SensorGeneratorConfig {
    /// Number of distinct sensors (keys). Default: 100.
    pub sensors: u64,
    /// Readings per second over all workers; `0` means as fast as possible (benchmarks).
    /// Default: 10,000.
    pub rate: u64,
    /// Seed; the same seed gives the same readings. Default: 42.
    pub seed: u64,
    /// Probability that a reading is a spike. Default: 0.001.
    pub spike_probability: f64,
    /// How far a spike lies from the sensor's baseline. Default: 25.0.
    pub spike_magnitude: f64,
    /// Event time of reading 0, epoch milliseconds. Default: 1,700,000,000,000 (Nov 2023).
    pub start_ts: i64,
    /// Readings arrive up to this many milliseconds late in event time. Default: 2,000.
    pub max_disorder_ms: i64,
    /// Stop after this many readings (a bounded source); `None` runs forever. Default: `None`.
    pub limit: Option<u64>,
}

impl Default for SensorGeneratorConfig {
    fn default() -> Self {
        Self {
            sensors: 100,
            rate: 10_000,
            seed: 42,
            spike_probability: 0.001,
            spike_magnitude: 25.0,
            start_ts: 1_700_000_000_000,
            max_disorder_ms: 2_000,
            limit: None,
        }
    }
}

impl SensorGeneratorConfig {
    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |reason: &str| {
            Err(EngineError::Source {
                source_name: "generator".into(),
                reason: reason.into(),
            })
        };
        if self.sensors == 0 {
            return bad("sensors must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.spike_probability) {
            return bad("spike_probability must be between 0 and 1");
        }
        if self.max_disorder_ms < 0 {
            return bad("max_disorder_ms must not be negative");
        }
        if !self.spike_magnitude.is_finite() {
            return bad("spike_magnitude must be finite");
        }
        Ok(())
    }

    /// Event-time distance between consecutive readings: the configured rate, or 1 ms apart
    /// in max-speed mode.
    pub fn event_spacing_ms(&self) -> f64 {
        if self.rate == 0 { 1.0 } else { 1000.0 / self.rate as f64 }
    }
}
