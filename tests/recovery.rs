//! Recovery: a pipeline started again on its history rebuilds its projections from it and
//! resumes its source where history ends — nothing lost, nothing twice, epochs never reused —
//! and what a crash leaves half-written (a torn manifest roll, a `.tmp` file, an unlisted
//! file) is never recovered from.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::history::{ParquetHistoryConfig, ParquetHistoryStore};
use tributary::engine::history::HistoryStore;
use tributary::engine::history::manifest::{FileEntry, MANIFEST_FILE, ManifestLog, read_manifest};
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::{HistorySources, SqlEngine};

/// The projections recovery must reproduce bit for bit (as replay does: see `replay.rs` for
/// why `alerts` and `actions` are not compared yet).
const COMPARED: [&str; 3] = [iot::SENSOR_STATS, iot::ANOMALIES, iot::ANOMALY_STATE];

fn generator(limit: u64) -> anyhow::Result<SensorGenerator> {
    Ok(SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 15,
        rate: 0,
        limit: Some(limit),
        spike_probability: 0.02,
        ..SensorGeneratorConfig::default()
    })?)
}

/// The compared projections' rows, by name.
type Tables = Vec<(String, RecordBatch)>;

/// Runs the IoT pipeline on the generator (up to `limit`) to the end with history in `dir`,
/// recovering from what `dir` holds; returns the compared projections and the catalog.
fn run(dir: &Path, limit: u64) -> anyhow::Result<(Tables, Arc<LiveCatalog>)> {
    let source = generator(limit)?;
    let store: Arc<dyn HistoryStore> = Arc::new(ParquetHistoryStore::open(ParquetHistoryConfig {
        roll_age_ms: 10,
        ..ParquetHistoryConfig::in_data_dir(dir)
    })?);
    let config = RuntimeConfig {
        epoch_max_records: 300,
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
    let health = run.health();
    run.join()?;
    assert!(!health.readiness().recovering, "recovery ends before the sources do");
    let read = catalog.read();
    let mut tables = Vec::new();
    for name in COMPARED {
        let table = read.table(name).ok_or_else(|| anyhow::anyhow!("no table {name}"))?;
        tables.push((name.to_string(), table.snapshot()?));
    }
    drop(read);
    Ok((tables, catalog))
}

fn manifest(dir: &Path) -> anyhow::Result<Vec<FileEntry>> {
    Ok(read_manifest(&dir.join("history").join(MANIFEST_FILE))?)
}

fn rows(files: &[FileEntry]) -> u64 {
    files.iter().map(|f| f.rows).sum()
}

async fn history_count(dir: &Path, catalog: Arc<LiveCatalog>) -> anyhow::Result<i64> {
    let engine = SqlEngine::new(catalog).with_history(HistorySources::new(dir.join("history")));
    let result = engine.execute("SELECT count(*) FROM history.readings").await?;
    Ok(result.batches[0].column(0).as_primitive::<Int64Type>().value(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_rebuilds_the_projections_and_resumes_after_history() -> anyhow::Result<()> {
    const FIRST: u64 = 6_000;
    const MORE: u64 = 11_000;
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_path_buf();
    let (first, _) = tokio::task::spawn_blocking(move || run(&path, FIRST)).await??;
    let before = manifest(dir.path())?;
    assert_eq!(rows(&before), FIRST);

    // The same generator again: recovery rebuilds every projection from history, and the
    // generator, resumed after its last recorded index, has nothing more to say.
    let path = dir.path().to_path_buf();
    let (recovered, _) = tokio::task::spawn_blocking(move || run(&path, FIRST)).await??;
    assert_eq!(recovered, first, "recovered projections equal the live ones");
    assert_eq!(manifest(dir.path())?, before, "nothing was appended to history again");

    // A longer generator: the source continues exactly where history ends.
    let path = dir.path().to_path_buf();
    let (extended, catalog) = tokio::task::spawn_blocking(move || run(&path, MORE)).await??;
    let after = manifest(dir.path())?;
    assert_eq!(rows(&after), MORE, "every reading in history exactly once");
    assert_eq!(history_count(dir.path(), catalog).await?, MORE as i64);
    let last_epoch = before.iter().map(|f| f.epoch_hi).max().unwrap_or(0);
    assert!(
        after[before.len()..].iter().all(|f| f.epoch_lo >= last_epoch),
        "epochs continue after the recovered ones"
    );
    let fresh = tempfile::tempdir()?;
    let path = fresh.path().to_path_buf();
    let (uninterrupted, _) = tokio::task::spawn_blocking(move || run(&path, MORE)).await??;
    assert_eq!(
        extended[0], uninterrupted[0],
        "sensor_stats after a restart equal an uninterrupted run's"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_crash_leaves_half_written_is_never_recovered() -> anyhow::Result<()> {
    const EVENTS: u64 = 4_000;
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_path_buf();
    let (live, _) = tokio::task::spawn_blocking(move || run(&path, EVENTS)).await??;
    let history = dir.path().join("history");
    let committed = manifest(dir.path())?;

    // A crash mid-commit: a roll's file renamed into place and its `add` line written, but
    // the roll's commit marker torn off; another roll's file still a `.tmp`; a third file
    // renamed whose entry never made it.
    let first = committed[0].clone();
    let partition = history.join(&first.file);
    let partition = partition.parent().ok_or_else(|| anyhow::anyhow!("no partition dir"))?;
    let torn = FileEntry {
        file: first.file.replace(".parquet", "-torn.parquet"),
        seq: 900_000,
        epoch_lo: 1_000_000,
        epoch_hi: 1_000_001,
        ..first.clone()
    };
    std::fs::copy(history.join(&first.file), history.join(&torn.file))?;
    std::fs::copy(history.join(&first.file), partition.join("part-w0-999999.parquet"))?;
    std::fs::write(partition.join("part-w0-999998.parquet.tmp"), b"PAR1 half a file")?;
    let manifest_path = history.join(MANIFEST_FILE);
    let whole = std::fs::read_to_string(&manifest_path)?;
    let (log, _) = ManifestLog::open(&history)?;
    log.append(&[torn])?;
    drop(log);
    let with_roll = std::fs::read_to_string(&manifest_path)?;
    let add_line = with_roll[whole.len()..].lines().next().unwrap_or_default();
    std::fs::write(&manifest_path, format!("{whole}{add_line}\n"))?;
    assert_eq!(manifest(dir.path())?, committed, "the torn roll is not committed");

    let path = dir.path().to_path_buf();
    let (recovered, catalog) = tokio::task::spawn_blocking(move || run(&path, EVENTS)).await??;
    assert_eq!(
        recovered, live,
        "nothing of the torn roll or the stray files was replayed"
    );
    assert_eq!(history_count(dir.path(), catalog).await?, EVENTS as i64);
    assert_eq!(
        std::fs::read_to_string(&manifest_path)?,
        whole,
        "reopening cut the torn roll off the manifest"
    );
    Ok(())
}
