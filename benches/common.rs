//! What several benches share: the event count knob and the reference count/sum/avg pipeline
//! (10,000 keys), so the projection, history and replay rows measure the same work.

use serde::{Deserialize, Serialize};
use tributary_connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};
use tributary_engine::source::Source;
use tributary_engine::{EngineError, Pipeline};
use tributary_operators::AggregatePerKey;

/// Keys of the reference pipeline.
pub const KEYS: u64 = 10_000;

/// Events per iteration: `TRIBUTARY_BENCH_EVENTS`, else `default`.
pub fn events_or(default: u64) -> u64 {
    std::env::var("TRIBUTARY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A bounded generator of `events` readings over `keys` sensors, at full speed.
pub fn generator(keys: u64, events: u64) -> SensorGenerator {
    SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: keys,
        rate: 0,
        limit: Some(events),
        ..SensorGeneratorConfig::default()
    })
    .expect("valid generator config")
}

/// One row of the reference projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyTotals {
    /// The sensor.
    pub key: i64,
    /// Readings so far.
    pub count: i64,
    /// Their sum.
    pub sum: f64,
    /// Their mean.
    pub avg: f64,
}

/// The reference pipeline: stream `readings` → count/sum/avg per sensor → projection `out`.
pub fn totals<S>(p: &mut Pipeline<'_>, source: &S) -> Result<(), EngineError>
where
    S: Source<SensorReading> + ?Sized,
{
    let totals = p
        .source("readings", source)?
        .map(|r| (r.sensor_id, r.value))
        .aggregate_per_key()
        .map(|(key, a)| KeyTotals {
            key,
            count: a.count,
            sum: a.sum_f64(),
            avg: a.avg().unwrap_or(f64::NAN),
        });
    p.projection("out", totals, |row| row.key)
}
