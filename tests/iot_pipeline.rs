//! The live `sensor_stats` projection equals batch recomputations of the same readings.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::operators::{ExactSum, Summand};
use tributary::pipelines::iot::{self, SensorStats};

const EVENTS: u64 = 60_000;

fn generator() -> anyhow::Result<SensorGenerator> {
    Ok(SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 50,
        rate: 0,
        limit: Some(EVENTS),
        spike_probability: 0.01,
        ..SensorGeneratorConfig::default()
    })?)
}

/// Runs the pipeline to completion on `workers` workers and returns the projection rows.
fn live_rows(workers: usize) -> anyhow::Result<Vec<SensorStats>> {
    let source = generator()?;
    let run = Runtime::start(RuntimeConfig::with_workers(workers), move |p| iot::build(p, &source))?;
    let catalog = run.catalog();
    let counters = run.counters();
    run.join()?;
    let readings = counters.snapshot()[iot::READINGS];
    assert_eq!(
        (readings.received, readings.accepted, readings.dead_lettered),
        (EVENTS, EVENTS, 0)
    );
    let read = catalog.read();
    assert_eq!(read.as_of(), u64::MAX, "a finished pipeline's frontier is complete");
    let table = read
        .table(iot::SENSOR_STATS)
        .ok_or_else(|| anyhow::anyhow!("no projection"))?;
    assert_eq!(table.anomalies(), 0);
    Ok(rows_of(&table.snapshot()?))
}

fn rows_of(batch: &RecordBatch) -> Vec<SensorStats> {
    let i = |n: usize| batch.column(n).as_primitive::<Int64Type>().clone();
    let f = |n: usize| batch.column(n).as_primitive::<Float64Type>().clone();
    let (id, count, sum, min, max, avg, last_value) = (i(0), i(1), f(2), f(3), f(4), f(5), f(6));
    let last_ts = batch.column(7).as_primitive::<TimestampMillisecondType>().clone();
    (0..batch.num_rows())
        .map(|r| SensorStats {
            sensor_id: id.value(r),
            count: count.value(r),
            sum: sum.value(r),
            min: min.value(r),
            max: max.value(r),
            avg: avg.value(r),
            last_value: last_value.value(r),
            last_ts: last_ts.value(r),
        })
        .collect()
}

/// A straightforward single-pass recomputation with the documented semantics.
fn plain_oracle(readings: &[SensorReading]) -> Vec<SensorStats> {
    let mut by_sensor: BTreeMap<i64, Vec<&SensorReading>> = BTreeMap::new();
    for r in readings {
        by_sensor.entry(r.sensor_id).or_default().push(r);
    }
    by_sensor
        .into_iter()
        .map(|(sensor_id, rs)| {
            let sum = rs.iter().fold(ExactSum::default(), |s, r| s + r.value.exact());
            let last = rs
                .iter()
                .max_by(|a, b| a.ts.cmp(&b.ts).then(a.value.total_cmp(&b.value)))
                .copied()
                .copied();
            let last = last.unwrap_or(SensorReading {
                sensor_id,
                ts: 0,
                value: f64::NAN,
            });
            SensorStats {
                sensor_id,
                count: rs.len() as i64,
                sum: sum.to_f64(),
                min: rs.iter().map(|r| r.value).fold(f64::INFINITY, f64::min),
                max: rs.iter().map(|r| r.value).fold(f64::NEG_INFINITY, f64::max),
                avg: sum.0 as f64 / rs.len() as f64 / ExactSum::SCALE as f64,
                last_value: last.value,
                last_ts: last.ts,
            }
        })
        .collect()
}

#[test]
fn live_projection_equals_batch_recomputation_on_one_and_two_workers() -> anyhow::Result<()> {
    let readings: Vec<SensorReading> = generator()?.readings(EVENTS).collect();
    let expected = plain_oracle(&readings);
    assert_eq!(expected.len(), 50);
    let one = live_rows(1)?;
    assert_eq!(one, expected, "1 worker");
    let two = live_rows(2)?;
    assert_eq!(two, expected, "2 workers");
    Ok(())
}

/// An independent oracle: DataFusion batch SQL over the same readings. Count, min, max and
/// last are exact; DataFusion sums floats in its own order, so sum and avg agree to 1e-9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_projection_equals_datafusion_batch_sql() -> anyhow::Result<()> {
    let readings: Vec<SensorReading> = generator()?.readings(EVENTS).collect();
    let fields = tributary::engine::record::derive_arrow_fields::<SensorReading>(&["ts"])?;
    let batch = readings_batch(&fields, &readings)?;
    let ctx = SessionContext::new();
    ctx.register_table(
        "readings",
        Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?),
    )?;
    let sql = "SELECT sensor_id, count(*), sum(value), min(value), max(value), avg(value),
                      last_value(value ORDER BY ts, value), max(ts)
               FROM readings GROUP BY sensor_id ORDER BY sensor_id";
    let batches = ctx.sql(sql).await?.collect().await?;
    let oracle: Vec<SensorStats> = batches.iter().flat_map(rows_of).collect();
    let live = tokio::task::spawn_blocking(|| live_rows(2)).await??;
    assert_eq!(live.len(), oracle.len());
    for (l, o) in live.iter().zip(&oracle) {
        assert_eq!(
            (l.sensor_id, l.count, l.min, l.max, l.last_value, l.last_ts),
            (o.sensor_id, o.count, o.min, o.max, o.last_value, o.last_ts)
        );
        assert!(
            (l.sum - o.sum).abs() <= 1e-9 * o.sum.abs(),
            "sum {} vs {}",
            l.sum,
            o.sum
        );
        assert!(
            (l.avg - o.avg).abs() <= 1e-9 * o.avg.abs(),
            "avg {} vs {}",
            l.avg,
            o.avg
        );
    }
    Ok(())
}

fn readings_batch(
    fields: &[datafusion::arrow::datatypes::FieldRef],
    readings: &[SensorReading],
) -> anyhow::Result<RecordBatch> {
    use datafusion::arrow::array::{Float64Array, Int64Array, TimestampMillisecondArray};
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields.to_vec()));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(readings.iter().map(|r| r.sensor_id))),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                readings.iter().map(|r| r.ts),
            )),
            Arc::new(Float64Array::from_iter_values(readings.iter().map(|r| r.value))),
        ],
    )?)
}
