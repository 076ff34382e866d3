//! `tributary replay` and `tributary verify` on the history of a real run: replay writes the
//! projections to Parquet equal to the live ones, verify passes against history and the live
//! server and fails, listing the rows, against a server whose state differs.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::history::{ParquetHistoryConfig, ParquetHistoryStore};
use tributary::engine::history::HistoryStore;
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::iot;

use crate::common::{TestServer, finished_iot_catalog};

fn generator_config(limit: u64) -> SensorGeneratorConfig {
    SensorGeneratorConfig {
        sensors: 12,
        rate: 0,
        limit: Some(limit),
        spike_probability: 0.02,
        ..SensorGeneratorConfig::default()
    }
}

/// The IoT pipeline on 2 workers over `limit` generated readings, with history in `dir`.
fn live_run(dir: &Path, limit: u64) -> anyhow::Result<Arc<LiveCatalog>> {
    let source = SensorGenerator::try_new(generator_config(limit))?;
    let store: Arc<dyn HistoryStore> = Arc::new(ParquetHistoryStore::open(ParquetHistoryConfig {
        roll_age_ms: 10,
        ..ParquetHistoryConfig::in_data_dir(dir)
    })?);
    let run = Runtime::start_with_history(
        RuntimeConfig {
            epoch_max_records: 400,
            ..RuntimeConfig::with_workers(2)
        },
        Arc::new(DeadLetterQueue::default()),
        Arc::default(),
        Some(store),
        move |p| iot::build(p, &source),
    )?;
    let catalog = run.catalog();
    run.join()?;
    Ok(catalog)
}

fn tributary(args: &[&str], data: &Path) -> anyhow::Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("TRIBUTARY_JWT_SECRET")
        .env_remove("TRIBUTARY_JWT_PUBLIC_KEY_FILE")
        .env_remove("TRIBUTARY_TOKEN")
        .output()?)
}

fn read_parquet(path: &Path) -> anyhow::Result<Vec<RecordBatch>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_writes_the_live_projections_and_verify_checks_them() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_path_buf();
    let catalog = tokio::task::spawn_blocking(move || live_run(&path, 5_000)).await??;

    let out = dir.path().join("out");
    let replay = tributary(&["replay", "--out", &out.to_string_lossy()], dir.path())?;
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    for name in [iot::SENSOR_STATS, iot::ANOMALIES] {
        let live = catalog.read().table(name).expect("a projection").snapshot()?;
        let written = read_parquet(&out.join(format!("{name}.parquet")))?;
        assert_eq!(
            written.iter().map(RecordBatch::num_rows).sum::<usize>(),
            live.num_rows()
        );
        assert_eq!(written[0].columns(), live.columns(), "{name} replayed bit for bit");
    }

    let verified = tributary(&["verify"], dir.path())?;
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(stdout.contains("verified"), "{stdout}");

    // Against the live run's server: the same rows.
    let server = TestServer::start(catalog).await?;
    let url = format!("http://{}", server.addr);
    let same = tributary(&["verify", "--server", &url], dir.path())?;
    assert!(same.status.success(), "{}", String::from_utf8_lossy(&same.stdout));
    server.stop().await?;

    // Against a server that saw fewer readings: every sensor's row differs.
    let fewer = tokio::task::spawn_blocking(|| finished_iot_catalog(generator_config(3_000))).await??;
    let server = TestServer::start(fewer).await?;
    let url = format!("http://{}", server.addr);
    let differs = tributary(&["verify", "--server", &url], dir.path())?;
    let stdout = String::from_utf8_lossy(&differs.stdout);
    assert!(!differs.status.success(), "a mismatch fails: {stdout}");
    assert!(stdout.contains("sensor_stats: 12 rows served only"), "{stdout}");
    server.stop().await?;
    Ok(())
}
