//! History throughput: what writing Parquet history costs the IoT pipeline, how fast a
//! restart recovers from that history, and how fast `tributary replay` runs over it.
//!
//! ```text
//! cargo run --release --example history_bench -- 1000000 2
//! ```
//!
//! Times, on `WORKERS` workers (default 2) over `EVENTS` generated readings (default
//! 1,000,000, 100 sensors, the generator at full speed): (a) the pipeline without history,
//! (b) the same with history — every reading to zstd Parquet, manifest, fsync — so
//! (b) ÷ (a) is the cost of history; (c) a restart on that history with nothing new to read:
//! recovery alone (read Parquet, replay every epoch, rebuild every projection); (d) a replay
//! of the history (`HistoryReplay`, as `tributary replay`). Results go to BENCHMARKS.md.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::history::{HistoryReplay, ParquetHistoryConfig, ParquetHistoryStore, ReplayOptions};
use tributary::engine::history::HistoryStore;
use tributary::engine::history::manifest::{MANIFEST_FILE, read_manifest};
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::iot;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let events: u64 = args
        .first()
        .map_or(Ok(1_000_000), |a| a.parse())
        .context("EVENTS must be a number")?;
    let workers: usize = args
        .get(1)
        .map_or(Ok(2), |a| a.parse())
        .context("WORKERS must be a number")?;
    let generator = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 100,
        rate: 0,
        limit: Some(events),
        ..SensorGeneratorConfig::default()
    })?;
    let dir = tempfile::tempdir()?;

    let (plain, plain_catalog) = timed(|| live(&generator, workers, None))?;
    let (with_history, _) = timed(|| live(&generator, workers, Some(dir.path())))?;
    let files = read_manifest(&dir.path().join("history").join(MANIFEST_FILE))?;
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    let bytes: u64 = files.iter().map(|f| f.bytes).sum();
    anyhow::ensure!(rows == events, "history holds {rows} of {events} readings");
    let (recovery, recovered) = timed(|| live(&generator, workers, Some(dir.path())))?;
    let (replay, replayed) = timed(|| replay(dir.path(), workers))?;
    for catalog in [&recovered, &replayed] {
        anyhow::ensure!(
            stats(catalog)? == stats(&plain_catalog)?,
            "recovered/replayed sensor_stats differ from the live run's"
        );
    }

    let rate = |seconds: f64| events as f64 / seconds;
    println!(
        "{events} readings, {workers} workers, {} files, {} bytes of Parquet",
        files.len(),
        bytes
    );
    println!("(a) live, no history    {plain:>8.3} s  {:>12.0} events/s", rate(plain));
    println!(
        "(b) live, with history  {with_history:>8.3} s  {:>12.0} events/s  (b)/(a) = {:.2}",
        rate(with_history),
        with_history / plain
    );
    println!(
        "(c) recovery (restart)  {recovery:>8.3} s  {:>12.0} events/s",
        rate(recovery)
    );
    println!(
        "(d) replay              {replay:>8.3} s  {:>12.0} events/s",
        rate(replay)
    );
    Ok(())
}

fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(f64, T)> {
    let started = Instant::now();
    let value = f()?;
    Ok((started.elapsed().as_secs_f64(), value))
}

/// The IoT pipeline over the generator to its end, with history in `dir/history` if given.
fn live(generator: &SensorGenerator, workers: usize, dir: Option<&Path>) -> anyhow::Result<Arc<LiveCatalog>> {
    let store = match dir {
        Some(dir) => {
            let store: Arc<dyn HistoryStore> =
                Arc::new(ParquetHistoryStore::open(ParquetHistoryConfig::in_data_dir(dir))?);
            Some(store)
        }
        None => None,
    };
    let source = generator.clone();
    let run = Runtime::start_with_history(
        RuntimeConfig::with_workers(workers),
        Arc::new(DeadLetterQueue::default()),
        Arc::default(),
        store,
        move |p| iot::build(p, &source),
    )?;
    let catalog = run.catalog();
    run.join()?;
    Ok(catalog)
}

fn replay(dir: &Path, workers: usize) -> anyhow::Result<Arc<LiveCatalog>> {
    let source = HistoryReplay::open(
        iot::READINGS,
        ReplayOptions {
            dir: dir.join("history"),
            until: None,
        },
    )?;
    let run = Runtime::start(ReplayOptions::runtime_config(workers), move |p| iot::build(p, &source))?;
    let catalog = run.catalog();
    run.join()?;
    Ok(catalog)
}

fn stats(catalog: &LiveCatalog) -> anyhow::Result<datafusion::arrow::array::RecordBatch> {
    let table = catalog
        .table(iot::SENSOR_STATS)
        .ok_or_else(|| anyhow::anyhow!("no sensor_stats"))?;
    Ok(table.snapshot()?)
}
