//! The IoT pipeline: sensor readings → per-sensor statistics.
//!
//! Input stream `readings(sensor_id BIGINT, ts TIMESTAMP(ms), value DOUBLE)`; projection
//! `sensor_stats(sensor_id, count, sum, min, max, avg, last_value, last_ts)`, where `last_*`
//! is the reading with the greatest event time (ties: the greater value).

use serde::{Deserialize, Serialize};
use tributary_connectors::generator::SensorReading;
use tributary_engine::source::Source;
use tributary_engine::{EngineError, Pipeline, ProjectionSpec};
use tributary_operators::{KeyStats, OrderedFloat, StatsPerKey};

/// Name of the input stream.
pub const READINGS: &str = "readings";
/// Name of the per-sensor statistics projection.
pub const SENSOR_STATS: &str = "sensor_stats";

/// One row of `sensor_stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorStats {
    /// The sensor.
    pub sensor_id: i64,
    /// Number of readings.
    pub count: i64,
    /// Exact sum of the values (fixed point, 10⁻⁹).
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub avg: f64,
    /// Value of the reading with the greatest event time.
    pub last_value: f64,
    /// Event time of that reading (SQL: `TIMESTAMP`).
    pub last_ts: i64,
}

impl SensorStats {
    /// The row for `sensor_id` from the operator's statistics.
    pub fn from_stats(sensor_id: i64, s: &KeyStats<OrderedFloat<f64>>) -> Self {
        Self {
            sensor_id,
            count: s.aggregate.count,
            sum: s.aggregate.sum_f64(),
            min: s.min.0,
            max: s.max.0,
            avg: s.aggregate.avg().unwrap_or(f64::NAN),
            last_value: s.last.0,
            last_ts: s.last_ts,
        }
    }
}

/// Builds the IoT pipeline over `source`.
pub fn build<S>(p: &mut Pipeline<'_>, source: &S) -> Result<(), EngineError>
where
    S: Source<SensorReading> + ?Sized,
{
    let stats = p
        .source(READINGS, source)?
        .map(|r| (r.sensor_id, (r.ts, OrderedFloat(r.value))))
        .stats_per_key()
        .map(|(sensor_id, s)| SensorStats::from_stats(sensor_id, &s));
    p.projection(
        ProjectionSpec::new(SENSOR_STATS).with_timestamp_ms(["last_ts"]),
        stats,
        |row| row.sensor_id,
    )
}
