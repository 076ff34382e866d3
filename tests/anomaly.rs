//! The IoT pipeline's anomaly scores against an independent oracle: DataFusion window
//! functions over the same readings (`avg` and `stddev_pop` over the sensor's strictly
//! earlier readings, `RANGE … 1 PRECEDING` on the millisecond event time).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, TimestampMillisecondType};
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::iot;

const EVENTS: u64 = 30_000;

/// 20 sensors, 1 % spikes of ±25 around a noise of σ 0.5, readings up to 2 s out of order.
fn generator() -> anyhow::Result<SensorGenerator> {
    Ok(SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        limit: Some(EVENTS),
        spike_probability: 0.01,
        ..SensorGeneratorConfig::default()
    })?)
}

/// A flagged reading: `(sensor_id, ts, value bits)` → `(mean, std)`.
type Flagged = BTreeMap<(i64, i64, u64), (f64, f64)>;

fn run_pipeline(workers: usize) -> anyhow::Result<Arc<LiveCatalog>> {
    let source = generator()?;
    // Small epochs, so that the triggers see the projections change many times.
    let config = RuntimeConfig {
        epoch_max_records: 300,
        ..RuntimeConfig::with_workers(workers)
    };
    let run = Runtime::start(config, move |p| iot::build(p, &source))?;
    let catalog = run.catalog();
    run.join()?;
    Ok(catalog)
}

fn live_flagged(catalog: &LiveCatalog) -> anyhow::Result<Flagged> {
    let read = catalog.read();
    let table = read
        .table(iot::ANOMALIES)
        .ok_or_else(|| anyhow::anyhow!("no anomalies projection"))?;
    let batch = table.snapshot()?;
    let id = batch.column(0).as_primitive::<Int64Type>();
    let ts = batch.column(1).as_primitive::<TimestampMillisecondType>();
    let f = |n: usize| batch.column(n).as_primitive::<Float64Type>().clone();
    let (value, mean, std) = (f(2), f(3), f(4));
    Ok((0..batch.num_rows())
        .map(|r| {
            (
                (id.value(r), ts.value(r), value.value(r).to_bits()),
                (mean.value(r), std.value(r)),
            )
        })
        .collect())
}

async fn oracle_flagged(readings: &[SensorReading]) -> anyhow::Result<Flagged> {
    // Event time as a plain BIGINT so the RANGE frame can say "strictly earlier": 1 PRECEDING.
    let schema = Arc::new(Schema::new(vec![
        Field::new("sensor_id", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("value", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(readings.iter().map(|r| r.sensor_id))),
            Arc::new(Int64Array::from_iter_values(readings.iter().map(|r| r.ts))),
            Arc::new(Float64Array::from_iter_values(readings.iter().map(|r| r.value))),
        ],
    )?;
    let ctx = SessionContext::new();
    ctx.register_table("readings", Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
    let sql = "WITH scored AS (
                 SELECT sensor_id, ts, value,
                        count(value) OVER earlier AS n,
                        avg(value) OVER earlier AS mean,
                        stddev_pop(value) OVER earlier AS std
                 FROM readings
                 WINDOW earlier AS (PARTITION BY sensor_id ORDER BY ts
                                    RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
               SELECT sensor_id, ts, value, mean, std FROM scored
               WHERE n >= 10 AND abs((value - mean) / std) > 4";
    let mut flagged = Flagged::new();
    for batch in ctx.sql(sql).await?.collect().await? {
        let i = |n: usize| batch.column(n).as_primitive::<Int64Type>().clone();
        let f = |n: usize| batch.column(n).as_primitive::<Float64Type>().clone();
        let (id, ts, value, mean, std) = (i(0), i(1), f(2), f(3), f(4));
        for r in 0..batch.num_rows() {
            flagged.insert(
                (id.value(r), ts.value(r), value.value(r).to_bits()),
                (mean.value(r), std.value(r)),
            );
        }
    }
    Ok(flagged)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flagged_readings_equal_datafusion_window_functions() -> anyhow::Result<()> {
    let readings: Vec<SensorReading> = generator()?.readings(EVENTS).collect();
    let expected = oracle_flagged(&readings).await?;
    assert!(
        expected.len() > 100,
        "the generator's spikes are flagged: {}",
        expected.len()
    );

    let catalog = tokio::task::spawn_blocking(|| run_pipeline(2)).await??;
    let live = live_flagged(&catalog)?;
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "exactly the oracle's readings are flagged"
    );
    for (key, (mean, std)) in &live {
        let (m, s) = expected[key];
        assert!(
            close(*mean, m) && close(*std, s),
            "{key:?}: live ({mean}, {std}) vs oracle ({m}, {s})"
        );
    }

    // Per sensor, `anomaly_state.anomalies` counts the flagged readings.
    let read = catalog.read();
    let state = read
        .table(iot::ANOMALY_STATE)
        .ok_or_else(|| anyhow::anyhow!("no anomaly_state projection"))?
        .snapshot()?;
    let ids = state.column(0).as_primitive::<Int64Type>();
    let counts = state.column(7).as_primitive::<Int64Type>();
    assert_eq!(state.num_rows(), 20);
    for r in 0..state.num_rows() {
        let sensor = ids.value(r);
        let flagged = expected.keys().filter(|(s, _, _)| *s == sensor).count() as i64;
        assert_eq!(counts.value(r), flagged, "sensor {sensor}");
    }
    Ok(())
}

/// Scores do not depend on how readings were cut into epochs, so 1 and 2 workers agree bit
/// for bit. Actions do: a trigger sees the projection at epoch boundaries, and whether a
/// short-lived state is seen depends on where the boundaries fall. So for alerts and actions
/// the test checks the invariants that hold for any cut.
#[test]
fn scores_do_not_depend_on_worker_count_and_alerts_follow_them() -> anyhow::Result<()> {
    let one = run_pipeline(1)?;
    let two = run_pipeline(2)?;
    let snapshot = |c: &LiveCatalog, table: &str| -> anyhow::Result<RecordBatch> {
        let read = c.read();
        let t = read.table(table).ok_or_else(|| anyhow::anyhow!("no {table}"))?;
        Ok(t.snapshot()?)
    };
    for table in [iot::ANOMALIES, iot::ANOMALY_STATE] {
        assert_eq!(
            snapshot(&one, table)?,
            snapshot(&two, table)?,
            "{table}: 1 worker vs 2 workers"
        );
    }
    for catalog in [&one, &two] {
        let state = snapshot(catalog, iot::ANOMALY_STATE)?;
        let ids = state.column(0).as_primitive::<Int64Type>();
        let ts = state.column(1).as_primitive::<TimestampMillisecondType>();
        let counts = state.column(7).as_primitive::<Int64Type>();
        let last_anomaly = state.column(8).as_primitive::<TimestampMillisecondType>();
        let in_alert_now: Vec<i64> = (0..state.num_rows())
            .filter(|&r| last_anomaly.is_valid(r) && ts.value(r) - last_anomaly.value(r) < iot::ALERT_SPAN_MS)
            .map(|r| ids.value(r))
            .collect();
        let ever_flagged = |sensor: i64| (0..state.num_rows()).any(|r| ids.value(r) == sensor && counts.value(r) > 0);

        let alerts = snapshot(catalog, iot::ALERTS)?;
        let alert_ids = alerts.column(1).as_primitive::<Int64Type>();
        for r in 0..alerts.num_rows() {
            assert!(
                in_alert_now.contains(&alert_ids.value(r)),
                "an open alert's sensor is in alert now"
            );
        }

        let actions = snapshot(catalog, iot::ACTIONS)?;
        let sensors = actions.column(1).as_primitive::<Int64Type>();
        let states = actions.column(2).as_string::<i64>();
        let seqs = actions.column(4).as_primitive::<Int64Type>();
        let mut seq: Vec<i64> = seqs.values().to_vec();
        seq.sort_unstable();
        assert_eq!(seq, (0..actions.num_rows() as i64).collect::<Vec<_>>(), "seq runs 0..n");
        let firings = (0..actions.num_rows()).filter(|&r| states.value(r) == "FIRING").count();
        assert!(firings > 0, "spikes fire alerts");
        for r in 0..actions.num_rows() {
            assert!(
                ever_flagged(sensors.value(r)),
                "actions only for sensors with anomalies"
            );
        }
        // Per sensor the log alternates FIRING, RESOLVED, FIRING, … in seq order.
        let mut by_sensor: BTreeMap<i64, Vec<(i64, &str)>> = BTreeMap::new();
        for r in 0..actions.num_rows() {
            by_sensor
                .entry(sensors.value(r))
                .or_default()
                .push((seqs.value(r), states.value(r)));
        }
        for (sensor, mut log) in by_sensor {
            log.sort_unstable();
            for (i, (_, state)) in log.iter().enumerate() {
                let expected = if i % 2 == 0 { "FIRING" } else { "RESOLVED" };
                assert_eq!(*state, expected, "sensor {sensor}: {log:?}");
            }
        }
    }
    Ok(())
}
