//! The IoT pipeline written out as a user would write it: readings from the sensor
//! generator → per-sensor statistics → a projection, then SQL over it.
//!
//! ```text
//! cargo run --example iot
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::engine::{Pipeline, ProjectionSpec, Runtime, RuntimeConfig};
use tributary::operators::{OrderedFloat, StatsPerKey};
use tributary::queries::SqlEngine;
use tributary::queries::http::encode_result;

/// One row of the projection: the shape SQL sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SensorSummary {
    sensor_id: i64,
    readings: i64,
    mean: f64,
    peak: f64,
    last_ts: i64,
}

fn pipeline(p: &mut Pipeline<'_>, source: &SensorGenerator) -> Result<(), tributary::engine::EngineError> {
    let summaries = p
        .source("readings", source)?
        .map(|r| (r.sensor_id, (r.ts, OrderedFloat(r.value))))
        .stats_per_key()
        .map(|(sensor_id, s)| SensorSummary {
            sensor_id,
            readings: s.aggregate.count,
            mean: s.aggregate.avg().unwrap_or(f64::NAN),
            peak: s.max.0,
            last_ts: s.last_ts,
        });
    p.projection(
        ProjectionSpec::new("summaries").with_timestamp_ms(["last_ts"]),
        summaries,
        |s| s.sensor_id,
    )
}

fn main() -> anyhow::Result<()> {
    let source = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 8,
        rate: 0,
        limit: Some(100_000),
        spike_probability: 0.01,
        ..SensorGeneratorConfig::default()
    })?;
    let run = Runtime::start(RuntimeConfig::default(), move |p| pipeline(p, &source))?;
    let catalog = run.catalog();
    run.join()?;

    let sql = SqlEngine::new(Arc::clone(&catalog));
    let result = tokio::runtime::Runtime::new()?.block_on(sql.execute(
        "SELECT sensor_id, readings, round(mean, 3) AS mean, round(peak, 3) AS peak, last_ts
         FROM summaries ORDER BY peak DESC LIMIT 5",
    ))?;
    let json = encode_result(&result).map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
