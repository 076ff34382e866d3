//! Replay reproduces the live projections bit for bit: random readings, out of order and
//! late, run live with history on, then replayed from that history.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use proptest::prelude::*;
use tributary::connectors::generator::SensorReading;
use tributary::connectors::history::{HistoryReplay, ParquetHistoryConfig, ParquetHistoryStore, ReplayOptions};
use tributary::engine::history::HistoryStore;
use tributary::engine::source::{DeadLetterQueue, Source, SourceOutput, SourceReader, SourceStatus, WorkerInfo};
use tributary::engine::{EngineError, LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::iot;

/// A bounded source of fixed readings: reading `i` on worker `i mod peers`, a few per poll
/// so that the live run spreads them over many epochs.
struct Readings(Arc<Vec<SensorReading>>);

impl Source<SensorReading> for Readings {
    fn describe(&self) -> String {
        "fixed readings".into()
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<SensorReading>>, EngineError> {
        let mine: Vec<SensorReading> = self
            .0
            .iter()
            .enumerate()
            .filter(|(i, _)| i % worker.peers == worker.index)
            .map(|(_, r)| *r)
            .collect();
        Ok(Box::new(Chunks(mine.into_iter())))
    }
}

struct Chunks(std::vec::IntoIter<SensorReading>);

impl SourceReader<SensorReading> for Chunks {
    fn poll(&mut self, out: &mut SourceOutput<'_, SensorReading>, _budget: usize) -> SourceStatus {
        for record in self.0.by_ref().take(3) {
            out.give(record);
        }
        if self.0.len() == 0 {
            SourceStatus::Finished
        } else {
            SourceStatus::Ready
        }
    }
}

/// The projections replay reproduces today. Left out until it is fixed: `alerts` and
/// `actions`, whose trigger `last_change` / `held_back_ms` differ between live and replay.
/// (`anomaly_state` is compared since the scores operator stopped sending settled readings
/// at an epoch earlier than rows it had already sent; `replay.proptest-regressions` holds
/// the input that found it.)
const COMPARED: [&str; 3] = [iot::SENSOR_STATS, iot::ANOMALIES, iot::ANOMALY_STATE];

/// The compared projections' rows, by table name.
fn projections(catalog: &LiveCatalog) -> anyhow::Result<Vec<(String, RecordBatch)>> {
    let read = catalog.read();
    let mut out = Vec::new();
    for name in COMPARED.map(String::from) {
        let table = read.table(&name).ok_or_else(|| anyhow::anyhow!("no table {name}"))?;
        out.push((name, table.snapshot()?));
    }
    Ok(out)
}

fn live(readings: Vec<SensorReading>, dir: &Path) -> anyhow::Result<Vec<(String, RecordBatch)>> {
    let source = Readings(Arc::new(readings));
    let store: Arc<dyn HistoryStore> = Arc::new(ParquetHistoryStore::open(ParquetHistoryConfig {
        roll_age_ms: 5,
        ..ParquetHistoryConfig::in_data_dir(dir)
    })?);
    let config = RuntimeConfig {
        epoch_max_records: 4,
        epoch_interval_ms: 1,
        ..RuntimeConfig::with_workers(2)
    };
    let run = Runtime::start_with_history(
        config,
        Arc::new(DeadLetterQueue::default()),
        Arc::default(),
        Some(store),
        move |p| iot::build(p, &source),
    )?;
    let catalog = run.catalog();
    run.join()?;
    projections(&catalog)
}

fn replay(dir: &Path) -> anyhow::Result<Vec<(String, RecordBatch)>> {
    let source = HistoryReplay::open(
        iot::READINGS,
        ReplayOptions {
            dir: dir.join("history"),
            until: None,
        },
    )?;
    let run = Runtime::start(ReplayOptions::runtime_config(2), move |p| iot::build(p, &source))?;
    let catalog = run.catalog();
    run.join()?;
    projections(&catalog)
}

fn readings() -> impl Strategy<Value = Vec<SensorReading>> {
    // Mostly increasing event time with jitter of up to ±3 s (beyond the pipeline's 2 s
    // settle window, so some readings are late), a few sensors, occasional spikes.
    prop::collection::vec((0i64..3, -3_000i64..3_000, 0u8..100), 20..120).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (sensor_id, jitter, v))| SensorReading {
                sensor_id,
                ts: 1_767_225_600_000 + i as i64 * 200 + jitter,
                value: if v > 96 {
                    500.0 + f64::from(v)
                } else {
                    20.0 + f64::from(v) / 10.0
                },
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn replay_reproduces_the_live_projections(readings in readings()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let live = live(readings, dir.path()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let replayed = replay(dir.path()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(live.len(), COMPARED.len());
        prop_assert_eq!(live, replayed);
    }
}
