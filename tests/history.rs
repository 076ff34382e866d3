//! Parquet history of the IoT pipeline: exactly-once contents, atomic visibility, SQL over
//! `history.readings` with partition pruning, a live ⋈ history join, and replay.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::history::{HistoryReplay, ParquetHistoryConfig, ParquetHistoryStore, ReplayOptions};
use tributary::engine::history::HistoryStore;
use tributary::engine::history::manifest::{MANIFEST_FILE, read_manifest};
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::{HistorySources, QueryResult, SqlEngine};

const EVENTS: u64 = 20_000;
/// 2025-12-31T23:59:55Z: the readings span two dates and two hours.
const START_TS: i64 = 1_767_225_600_000 - 5_000;

fn generator() -> anyhow::Result<SensorGenerator> {
    Ok(SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        limit: Some(EVENTS),
        start_ts: START_TS,
        spike_probability: 0.01,
        ..SensorGeneratorConfig::default()
    })?)
}

fn history_config(dir: &Path) -> ParquetHistoryConfig {
    ParquetHistoryConfig {
        roll_age_ms: 20,
        ..ParquetHistoryConfig::in_data_dir(dir)
    }
}

/// Runs the IoT pipeline over the generator to completion with history in `dir`.
fn live_run(dir: &Path, workers: usize) -> anyhow::Result<Arc<LiveCatalog>> {
    let source = generator()?;
    let store: Arc<dyn HistoryStore> = Arc::new(ParquetHistoryStore::open(history_config(dir))?);
    let config = RuntimeConfig {
        epoch_max_records: 1_000,
        ..RuntimeConfig::with_workers(workers)
    };
    let run = Runtime::start_with_history(
        config,
        Arc::new(DeadLetterQueue::default()),
        Arc::default(),
        Some(store),
        move |p| iot::build(p, &source),
    )?;
    let catalog = run.catalog();
    let counters = run.counters();
    run.join()?;
    assert_eq!(counters.snapshot()[iot::READINGS].accepted, EVENTS);
    Ok(catalog)
}

async fn sql(engine: &SqlEngine, query: &str) -> anyhow::Result<QueryResult> {
    Ok(engine.execute(query).await?)
}

fn i64_at(result: &QueryResult, column: usize, row: usize) -> i64 {
    result.batches[0].column(column).as_primitive::<Int64Type>().value(row)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_holds_every_accepted_record_exactly_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let catalog = live_run(dir.path(), 2)?;
    let history_dir = dir.path().join("history");
    let entries = read_manifest(&history_dir.join(MANIFEST_FILE))?;
    let rows: u64 = entries.iter().map(|f| f.rows).sum();
    assert_eq!(rows, EVENTS, "the manifest counts every accepted reading once");
    let workers: std::collections::BTreeSet<usize> = entries.iter().map(|f| f.worker).collect();
    assert_eq!(workers.len(), 2, "both workers wrote history");
    // The generator's positions are in the manifest: together the workers' last checkpoints
    // say every index was emitted.
    assert!(entries.iter().all(|f| f.checkpoint.is_some()));

    let engine = SqlEngine::new(catalog).with_history(HistorySources::new(&history_dir));
    let result = sql(
        &engine,
        "SELECT count(*) AS n, sum(sensor_id) AS ids, sum(value) AS s FROM history.readings",
    )
    .await?;
    let generator = generator()?;
    let expected: f64 = generator.readings(EVENTS).map(|r| r.value).sum();
    assert_eq!(i64_at(&result, 0, 0), EVENTS as i64);
    let ids: i64 = generator.readings(EVENTS).map(|r| r.sensor_id).sum();
    assert_eq!(i64_at(&result, 1, 0), ids);
    let sum = result.batches[0].column(2).as_primitive::<Float64Type>().value(0);
    assert!((sum - expected).abs() < 1e-6 * expected.abs(), "{sum} vs {expected}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_written_and_orphan_files_are_never_read() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let catalog = live_run(dir.path(), 1)?;
    let history_dir = dir.path().join("history");
    let entries = read_manifest(&history_dir.join(MANIFEST_FILE))?;
    let first = &entries[0];
    let committed = history_dir.join(&first.file);
    let partition = committed.parent().expect("a partition directory");
    // A crash before the rename leaves a .tmp; a crash before the manifest append leaves
    // a complete file nobody listed.
    std::fs::write(partition.join("part-w0-999998.parquet.tmp"), b"PAR1 half a file")?;
    std::fs::copy(&committed, partition.join("part-w0-999999.parquet"))?;
    let engine = SqlEngine::new(catalog).with_history(HistorySources::new(&history_dir));
    let result = sql(&engine, "SELECT count(*) FROM history.readings").await?;
    assert_eq!(i64_at(&result, 0, 0), EVENTS as i64);
    let replay = HistoryReplay::open(
        iot::READINGS,
        ReplayOptions {
            dir: history_dir,
            until: None,
        },
    )?;
    assert_eq!(
        replay.progress().total.load(std::sync::atomic::Ordering::Relaxed),
        EVENTS
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_partition_pruning_and_live_joins_history() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let catalog = live_run(dir.path(), 2)?;
    let history_dir = dir.path().join("history");
    let engine = SqlEngine::new(catalog).with_history(HistorySources::new(&history_dir));

    let all = sql(
        &engine,
        "SELECT date, hour, count(*) FROM history.readings GROUP BY date, hour ORDER BY date",
    )
    .await?;
    assert_eq!(
        all.batches.iter().map(|b| b.num_rows()).sum::<usize>(),
        2,
        "two hours of readings"
    );

    let plan = |result: &QueryResult| -> String {
        let batch = &result.batches[0];
        let texts = batch.column(1).as_string::<i32>();
        (0..texts.len())
            .map(|i| texts.value(i).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pruned = sql(
        &engine,
        "EXPLAIN SELECT count(*) FROM history.readings WHERE date = '2026-01-01'",
    )
    .await?;
    let text = plan(&pruned);
    assert!(text.contains("date=2026-01-01"), "{text}");
    assert!(
        !text.contains("date=2025-12-31"),
        "the other date's files are pruned: {text}"
    );
    let unpruned = sql(&engine, "EXPLAIN SELECT count(*) FROM history.readings").await?;
    let text = plan(&unpruned);
    assert!(
        text.contains("date=2025-12-31") && text.contains("date=2026-01-01"),
        "{text}"
    );
    let one_hour = sql(
        &engine,
        "SELECT count(*) FROM history.readings WHERE date = '2026-01-01' AND hour = 0",
    )
    .await?;
    let early = sql(&engine, "SELECT count(*) FROM history.readings WHERE hour = 23").await?;
    assert_eq!(i64_at(&one_hour, 0, 0) + i64_at(&early, 0, 0), EVENTS as i64);
    assert!(i64_at(&early, 0, 0) > 0);

    // Live ⋈ history: every sensor's live count equals its readings in history.
    let joined = sql(
        &engine,
        "SELECT count(*) AS sensors, sum(CASE WHEN s.count = h.n THEN 1 ELSE 0 END) AS equal \
         FROM sensor_stats s JOIN (SELECT sensor_id, count(*) AS n FROM history.readings GROUP BY sensor_id) h \
         ON s.sensor_id = h.sensor_id",
    )
    .await?;
    assert_eq!(i64_at(&joined, 0, 0), 20);
    assert_eq!(i64_at(&joined, 1, 0), 20);

    let missing = engine.execute("SELECT * FROM history.nope").await.unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
    Ok(())
}
