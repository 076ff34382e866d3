//! `tributary demo`: the IoT pipeline on the generator (or a real broker), served over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tributary::connectors::actions::DeliveryContext;
use tributary::connectors::dlq::NdjsonDeadLetterSink;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};
use tributary::connectors::history::{ParquetHistoryConfig, ParquetHistoryStore};
use tributary::connectors::http::HttpIngestOnly;
use tributary::connectors::kafka::{KafkaSource, KafkaSourceConfig};
use tributary::connectors::mqtt::{MqttSource, MqttSourceConfig};
use tributary::connectors::webhook::{WebhookConfig, WebhookSink};
use tributary::engine::delivery::{ActionSink, DeliveryLog};
use tributary::engine::history::HistoryStore;
use tributary::engine::source::{DeadLetterQueue, Source};
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::audit::AuditLog;
use tributary::queries::{ApiConfig, ApiState, HistorySources, serve};

use crate::source_arg::{SourceArg, sensor_topic_pattern};

/// Arguments of `tributary demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address to serve the HTTP API on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where readings come from: `generator`, `http` (HTTP ingest only),
    /// `mqtt://HOST:PORT/TOPIC_FILTER` or `kafka://HOST:PORT/TOPIC`. HTTP ingest
    /// (`POST /v1/ingest/readings`) works with every source.
    #[arg(long, default_value = "generator")]
    source: SourceArg,
    /// Data directory, created if missing. Dead letters go to `DIR/dlq/<stream>.ndjson`,
    /// every accepted reading to Parquet history in `DIR/history/` (`history.readings` in
    /// SQL). Started again on the same directory, the demo rebuilds its projections from
    /// that history and resumes the source where history ends.
    #[arg(long, default_value = "./tributary-data")]
    data: PathBuf,
    /// Number of simulated sensors.
    #[arg(long, default_value_t = 100)]
    sensors: u64,
    /// Readings per second over all workers (0: as fast as possible).
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Worker threads (default: number of cores).
    #[arg(long)]
    workers: Option<usize>,
    /// POST every alert action (FIRING / RESOLVED) as JSON to this `http://` URL, with
    /// retries, an `Idempotency-Key` header and a circuit breaker; outcomes in
    /// `system.actions`, give-ups in the dead-letter queue.
    #[arg(long)]
    webhook: Option<String>,
}

/// How long Ctrl-C waits for actions still being delivered before dead-lettering them.
const DELIVERY_GRACE: Duration = Duration::from_secs(5);

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    // Before anything starts: refuse an unauthenticated server on a non-loopback address.
    let auth = crate::auth::from_env(args.listen)?;
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create data directory {}", args.data.display()))?;
    let audit_dir = args.data.join("audit");
    let audit = Arc::new(AuditLog::open(&audit_dir, AuditLog::DEFAULT_RECENT_CAPACITY)?);
    let source = open_source(&args)?;
    let dlq_dir = args.data.join("dlq");
    let dead_letters = Arc::new(DeadLetterQueue::with_sink(
        Box::new(
            NdjsonDeadLetterSink::try_new(&dlq_dir).with_context(|| format!("cannot create {}", dlq_dir.display()))?,
        ),
        DeadLetterQueue::DEFAULT_RECENT_CAPACITY,
    ));
    let mut config = RuntimeConfig::default();
    if let Some(workers) = args.workers {
        config.workers = workers;
    }
    let workers = config.workers;
    let described = source.describe();
    let deliveries = Arc::new(DeliveryLog::default());
    let webhook = match &args.webhook {
        Some(url) => {
            let context = DeliveryContext::new(deliveries.clone(), dead_letters.clone(), iot::ACTIONS);
            let sink = WebhookSink::try_new(WebhookConfig::new(url.clone()), context)?;
            tracing::info!(url = %url, "delivering alert actions to the webhook");
            Some(Arc::new(sink))
        }
        None => None,
    };
    let sinks: Vec<Arc<dyn ActionSink>> = webhook.iter().map(|w| w.clone() as Arc<dyn ActionSink>).collect();
    let history_config = ParquetHistoryConfig::in_data_dir(&args.data);
    let history_dir = history_config.dir.clone();
    let history: Arc<dyn HistoryStore> = Arc::new(
        ParquetHistoryStore::open(history_config)
            .with_context(|| format!("cannot open history in {}", history_dir.display()))?,
    );
    let pipeline = Runtime::start_with_history(config, dead_letters, deliveries.clone(), Some(history), move |p| {
        iot::build_delivering(p, source.as_ref(), &sinks)
    })?;
    let mut state = ApiState::for_pipeline(&pipeline)
        .with_config(ApiConfig {
            auth,
            ..ApiConfig::default()
        })?
        .with_audit(audit);
    state.sql = Arc::new(
        state
            .sql
            .as_ref()
            .clone()
            .with_history(HistorySources::new(&history_dir)),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, workers, source = %described, data = %args.data.display(), "tributary demo running; Ctrl-C stops it");
        tracing::info!(audit = %audit_dir.display(), "ingest and admin calls are audited (system.audit)");
        tracing::info!(dlq = %dlq_dir.display(), history = %history_dir.display(), "a restart on this data directory rebuilds the projections from history (503 on /readyz until done) and resumes the source after it");
        print_examples(addr);
        serve(listener, state, async {
            // If the signal handler cannot be installed, serve until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
        .context("HTTP server failed")
    })?;
    tracing::info!("shutting down: draining the dataflow");
    pipeline.shutdown()?;
    if let Some(webhook) = webhook {
        webhook.close(DELIVERY_GRACE);
    }
    // After the sink closed: its last outcomes are in the log, commit them to history.
    deliveries.finish_history()?;
    tracing::info!("stopped");
    Ok(())
}

/// The source `--source` names; the generator and broker sources are shared by all workers.
fn open_source(args: &DemoArgs) -> anyhow::Result<Arc<dyn Source<SensorReading>>> {
    Ok(match &args.source {
        SourceArg::Generator => Arc::new(SensorGenerator::try_new(SensorGeneratorConfig {
            sensors: args.sensors,
            rate: args.rate,
            seed: args.seed,
            ..SensorGeneratorConfig::default()
        })?),
        SourceArg::Http => Arc::new(HttpIngestOnly),
        SourceArg::Mqtt { host, port, filter } => Arc::new(MqttSource::try_new(MqttSourceConfig {
            host: host.clone(),
            port: *port,
            topics: vec![filter.clone()],
            client_id: "tributary-demo".to_string(),
            key_from_topic: sensor_topic_pattern(filter),
            ..MqttSourceConfig::default()
        })?),
        SourceArg::Kafka { brokers, topic } => Arc::new(KafkaSource::try_new(KafkaSourceConfig {
            brokers: brokers.clone(),
            topics: vec![topic.clone()],
            group_id: "tributary-demo".to_string(),
            ..KafkaSourceConfig::default()
        })?),
    })
}

fn print_examples(addr: SocketAddr) {
    println!(
        r#"
Tributary demo: IoT pipeline on the sensor generator, SQL at http://{addr}/v1/sql

  curl -s http://{addr}/v1/sql -H 'content-type: application/json' \
       -d '{{"sql": "SELECT sensor_id, count, avg FROM sensor_stats ORDER BY sensor_id LIMIT 5"}}'

  cargo run -q -- sql "SELECT count(*) AS sensors, sum(count) AS readings FROM sensor_stats" --server http://{addr}

  curl -s http://{addr}/v1/ingest/readings -H 'content-type: application/x-ndjson' \
       --data-binary $'{{"sensor_id": 1, "ts": 1767225600000, "value": 20.5}}\n{{"sensor_id": "x"}}'
"#
    );
}
