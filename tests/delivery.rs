//! Action delivery on the real IoT pipeline: a dead webhook endpoint costs ingestion and the
//! projections nothing, every action is accounted for (delivered or dead-lettered), and a
//! healthy endpoint receives every action once, keyed by its `(rule, seq)`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use tributary::connectors::actions::DeliveryContext;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::webhook::{BreakerConfig, WebhookConfig, WebhookSink};
use tributary::engine::delivery::{ActionSink, DeliveryLog};
use tributary::engine::source::{DeadLetterQueue, RejectKind};
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::SqlEngine;

const EVENTS: u64 = 40_000;

fn generator() -> anyhow::Result<SensorGenerator> {
    Ok(SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        limit: Some(EVENTS),
        spike_probability: 0.01,
        ..SensorGeneratorConfig::default()
    })?)
}

/// What a finished run left: its projections and, if it delivered, its log and DLQ.
struct Run {
    stats: RecordBatch,
    actions: RecordBatch,
    system_actions: Vec<RecordBatch>,
}

/// Runs the IoT pipeline to completion, delivering to `sink` if there is one.
fn run(sink: Option<(Arc<WebhookSink>, Arc<DeliveryLog>, Arc<DeadLetterQueue>)>) -> anyhow::Result<Run> {
    let source = generator()?;
    let (sinks, log, dlq): (Vec<Arc<dyn ActionSink>>, _, _) = match &sink {
        Some((s, log, dlq)) => (vec![s.clone() as Arc<dyn ActionSink>], log.clone(), dlq.clone()),
        None => (
            Vec::new(),
            Arc::new(DeliveryLog::default()),
            Arc::new(DeadLetterQueue::default()),
        ),
    };
    let pipeline = Runtime::start_delivering(RuntimeConfig::with_workers(2), dlq, log, move |p| {
        iot::build_delivering(p, &source, &sinks)
    })?;
    let catalog = pipeline.catalog();
    let sql = SqlEngine::for_pipeline(&pipeline);
    let counters = pipeline.counters();
    pipeline.join()?;
    assert_eq!(
        counters.snapshot()[iot::READINGS].accepted,
        EVENTS,
        "ingestion completed"
    );
    if let Some((s, _, _)) = &sink {
        // Everything was submitted once the dataflow drained; let the sink finish.
        let deadline = Instant::now() + Duration::from_secs(60);
        while s.outstanding() > 0 {
            anyhow::ensure!(Instant::now() < deadline, "{} actions outstanding", s.outstanding());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let read = catalog.read();
    let table = |name: &str| -> anyhow::Result<RecordBatch> {
        Ok(read
            .table(name)
            .ok_or_else(|| anyhow::anyhow!("no projection {name}"))?
            .snapshot()?)
    };
    let (stats, actions) = (table(iot::SENSOR_STATS)?, table(iot::ACTIONS)?);
    drop(read);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let system_actions = runtime
        .block_on(sql.execute("SELECT action_id, outcome, attempts, error FROM system.actions ORDER BY action_id"))?
        .batches;
    Ok(Run {
        stats,
        actions,
        system_actions,
    })
}

/// The ids (`rule:seq`) of the `actions` projection.
fn action_ids(actions: &RecordBatch) -> BTreeSet<String> {
    let rules = actions.column(0).as_string::<i64>();
    let seqs = actions.column(4).as_primitive::<Int64Type>();
    (0..actions.num_rows())
        .map(|r| format!("{}:{}", rules.value(r), seqs.value(r)))
        .collect()
}

fn sorted_rows(batch: &RecordBatch) -> anyhow::Result<String> {
    let mut lines: Vec<String> = datafusion::arrow::util::pretty::pretty_format_batches(std::slice::from_ref(batch))?
        .to_string()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    Ok(lines.join("\n"))
}

#[test]
fn a_dead_webhook_never_stalls_ingestion_and_every_action_is_dead_lettered() -> anyhow::Result<()> {
    let baseline = run(None)?;
    let expected = action_ids(&baseline.actions);
    assert!(!expected.is_empty(), "the generator's spikes raise alerts");

    let dead = format!(
        "http://{}/hook",
        std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?
    );
    let log = Arc::new(DeliveryLog::default());
    let dlq = Arc::new(DeadLetterQueue::default());
    let sink = Arc::new(WebhookSink::try_new(
        WebhookConfig {
            timeout_ms: 200,
            retry_delays_ms: vec![20, 40],
            queue_capacity: 4,
            max_in_flight: 2,
            breaker: BreakerConfig {
                failure_threshold: 3,
                cool_down_ms: 50,
            },
            ..WebhookConfig::new(dead)
        },
        DeliveryContext::new(log.clone(), dlq.clone(), iot::ACTIONS),
    )?);
    let delivered = run(Some((sink, log.clone(), dlq.clone())))?;

    assert_eq!(
        sorted_rows(&delivered.stats)?,
        sorted_rows(&baseline.stats)?,
        "same projections"
    );
    assert_eq!(action_ids(&delivered.actions), expected);
    let c = log.counters();
    let n = expected.len() as u64;
    assert_eq!(
        (c.enqueued, c.delivered, c.dead_lettered, c.queued, c.in_flight),
        (n, 0, n, 0, 0)
    );
    let letters: BTreeSet<String> = dlq
        .recent()
        .into_iter()
        .filter(|l| l.kind == RejectKind::Delivery && l.stream == iot::ACTIONS)
        .map(|l| l.position.to_string())
        .collect();
    let positions: BTreeSet<String> = expected.iter().map(|id| format!("action:{id}")).collect();
    assert_eq!(letters, positions, "every action is in the dead-letter queue");

    let rows: usize = delivered.system_actions.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows as u64, n, "system.actions has one row per action");
    for batch in &delivered.system_actions {
        let outcome = batch.column(1).as_string::<i32>();
        assert!((0..batch.num_rows()).all(|r| outcome.value(r) == "dead_lettered"));
    }
    Ok(())
}

#[test]
fn a_healthy_webhook_receives_every_action_once_by_its_key() -> anyhow::Result<()> {
    let keys = Arc::new(Mutex::new(Vec::<String>::new()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let seen = keys.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let seen = seen.clone();
            async move {
                if let (Some(key), Ok(mut seen)) = (
                    headers.get("idempotency-key").and_then(|v| v.to_str().ok()),
                    seen.lock(),
                ) {
                    seen.push(key.to_string());
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });

    let log = Arc::new(DeliveryLog::default());
    let dlq = Arc::new(DeadLetterQueue::default());
    let sink = Arc::new(WebhookSink::try_new(
        WebhookConfig::new(url),
        DeliveryContext::new(log.clone(), dlq.clone(), iot::ACTIONS),
    )?);
    let finished = run(Some((sink, log.clone(), dlq)))?;

    let expected = action_ids(&finished.actions);
    assert!(!expected.is_empty());
    let mut received = keys.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    received.sort();
    assert_eq!(
        received,
        expected.iter().cloned().collect::<Vec<_>>(),
        "each action once"
    );
    let c = log.counters();
    assert_eq!(
        (c.enqueued, c.delivered, c.dead_lettered),
        (expected.len() as u64, expected.len() as u64, 0)
    );
    for batch in &finished.system_actions {
        let outcome = batch.column(1).as_string::<i32>();
        let attempts = batch.column(2).as_primitive::<Int64Type>();
        assert!((0..batch.num_rows()).all(|r| outcome.value(r) == "delivered" && attempts.value(r) == 1));
    }
    Ok(())
}
