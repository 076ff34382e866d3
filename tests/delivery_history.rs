//! Delivery outcomes reach history: with history on, every finished delivery is a row of
//! `history.action_deliveries` equal to its `system.actions` row, and a restart on that
//! history recovers the pipeline without feeding the outcomes back in as input.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use tributary::connectors::actions::DeliveryContext;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::history::{ParquetHistoryConfig, ParquetHistoryStore};
use tributary::connectors::webhook::{BreakerConfig, WebhookConfig, WebhookSink};
use tributary::engine::delivery::{ActionSink, DELIVERY_HISTORY_STREAM, DeliveryLog};
use tributary::engine::history::HistoryStore;
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{EngineError, Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::{HistorySources, SqlEngine};

const EVENTS: u64 = 20_000;

fn generator() -> anyhow::Result<SensorGenerator> {
    Ok(SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        limit: Some(EVENTS),
        spike_probability: 0.01,
        ..SensorGeneratorConfig::default()
    })?)
}

fn store(dir: &Path) -> anyhow::Result<Arc<dyn HistoryStore>> {
    Ok(Arc::new(ParquetHistoryStore::open(ParquetHistoryConfig {
        roll_age_ms: 20,
        ..ParquetHistoryConfig::in_data_dir(dir)
    })?))
}

/// `action_id → (outcome, attempts)` of a query's rows (columns in that order; strings and
/// integers of any width, since history's Parquet and `system.actions` type them differently).
fn outcomes(batches: &[RecordBatch]) -> anyhow::Result<BTreeMap<String, (String, i64)>> {
    let mut out = BTreeMap::new();
    for batch in batches {
        let ids = cast(batch.column(0), &DataType::Utf8)?;
        let outcome = cast(batch.column(1), &DataType::Utf8)?;
        let attempts = cast(batch.column(2), &DataType::Int64)?;
        let (ids, outcome, attempts) = (
            ids.as_string::<i32>(),
            outcome.as_string::<i32>(),
            attempts.as_primitive::<Int64Type>(),
        );
        for r in 0..batch.num_rows() {
            out.insert(
                ids.value(r).to_string(),
                (outcome.value(r).to_string(), attempts.value(r)),
            );
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_outcome_is_in_history_and_a_restart_recovers_past_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dead = format!(
        "http://{}/hook",
        std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?
    );
    let log = Arc::new(DeliveryLog::default());
    let dlq = Arc::new(DeadLetterQueue::default());
    let sink = Arc::new(WebhookSink::try_new(
        WebhookConfig {
            timeout_ms: 200,
            retry_delays_ms: vec![10, 20],
            breaker: BreakerConfig {
                failure_threshold: 3,
                cool_down_ms: 30,
            },
            ..WebhookConfig::new(dead)
        },
        DeliveryContext::new(log.clone(), dlq.clone(), iot::ACTIONS),
    )?);
    let source = generator()?;
    let sinks: Vec<Arc<dyn ActionSink>> = vec![sink.clone()];
    let run = Runtime::start_with_history(
        RuntimeConfig::with_workers(2),
        dlq,
        log.clone(),
        Some(store(dir.path())?),
        move |p| iot::build_delivering(p, &source, &sinks),
    )?;
    let sql = SqlEngine::for_pipeline(&run).with_history(HistorySources::new(dir.path().join("history")));
    let catalog = run.catalog();
    run.join()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.outstanding() > 0 {
        anyhow::ensure!(Instant::now() < deadline, "{} actions outstanding", sink.outstanding());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.finish_history()?;

    let live = outcomes(
        &sql.execute("SELECT action_id, outcome, attempts FROM system.actions")
            .await?
            .batches,
    )?;
    let counters = log.counters();
    assert!(counters.enqueued > 0, "the generator's spikes raise alerts");
    assert_eq!(live.len() as u64, counters.enqueued, "system.actions has every action");
    let recorded = outcomes(
        &sql.execute(&format!(
            "SELECT action_id, outcome, attempts FROM history.{DELIVERY_HISTORY_STREAM}"
        ))
        .await?
        .batches,
    )?;
    assert_eq!(
        recorded, live,
        "history holds every outcome exactly once, as system.actions shows it"
    );
    assert!(
        recorded
            .values()
            .all(|(outcome, attempts)| outcome == "dead_lettered" && *attempts >= 1)
    );
    let stats = catalog.read().table(iot::SENSOR_STATS).map(|t| t.row_count());

    // A restart on the same history recovers the readings only; the outcomes stay outputs.
    let source = generator()?;
    let restarted = Runtime::start_with_history(
        RuntimeConfig::with_workers(2),
        Arc::new(DeadLetterQueue::default()),
        Arc::new(DeliveryLog::default()),
        Some(store(dir.path())?),
        move |p| iot::build(p, &source),
    )?;
    let catalog = restarted.catalog();
    let counters = restarted.counters();
    restarted.join()?;
    assert_eq!(catalog.read().table(iot::SENSOR_STATS).map(|t| t.row_count()), stats);
    assert_eq!(
        counters.snapshot()[iot::READINGS].accepted,
        0,
        "nothing new to read after recovery"
    );
    Ok(())
}

#[test]
fn a_pipeline_stream_cannot_take_the_delivery_history_name() -> anyhow::Result<()> {
    let source = generator()?;
    let err = Runtime::start(RuntimeConfig::with_workers(1), move |p| {
        p.source(DELIVERY_HISTORY_STREAM, &source).map(|_| ())
    })
    .and_then(|run| run.join())
    .expect_err("the name is reserved");
    assert!(
        matches!(err, EngineError::ReservedName { .. }) || err.to_string().contains("reserved"),
        "{err}"
    );
    Ok(())
}
