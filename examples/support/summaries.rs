//! The projection the SQL benchmark examples query: readings per sensor and their mean, on
//! the count/sum monoid (`aggregate_per_key`), so that loading a million keys takes seconds —
//! the queries, not the projection, are what these examples measure.

use serde::{Deserialize, Serialize};
use tributary::connectors::generator::SensorReading;
use tributary::engine::{Collection, EngineError, Pipeline, ProjectionSpec};
use tributary::operators::AggregatePerKey;

/// The projection's name.
pub const SUMMARIES: &str = "summaries";

/// One row of `summaries`, keyed by `sensor_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The sensor.
    pub sensor_id: i64,
    /// Readings so far.
    pub readings: i64,
    /// Their mean.
    pub mean: f64,
}

/// Declares `summaries` over `readings`, with `sensor_id` as its key column (so
/// `WHERE sensor_id = $1` is a key lookup).
pub fn project_summaries<'scope>(
    p: &mut Pipeline<'scope>,
    readings: Collection<'scope, SensorReading>,
) -> Result<(), EngineError> {
    let summaries = readings
        .map(|r| (r.sensor_id, r.value))
        .aggregate_per_key()
        .map(|(sensor_id, a)| Summary {
            sensor_id,
            readings: a.count,
            mean: a.avg().unwrap_or(f64::NAN),
        });
    p.projection(
        ProjectionSpec::new(SUMMARIES).with_key_columns(["sensor_id"]),
        summaries,
        |s| s.sensor_id,
    )
}
