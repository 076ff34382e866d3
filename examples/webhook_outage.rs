//! Ingestion throughput of the IoT pipeline while it delivers its alert actions to a healthy
//! webhook endpoint, and while the endpoint is dead (nothing listening): the dead endpoint
//! must cost ingestion nothing, since delivery runs off the dataflow threads.
//!
//! ```text
//! cargo run --release --example webhook_outage -- [EVENTS] [WORKERS] [SPIKE_PROBABILITY]
//! ```
//!
//! Defaults: 2,000,000 readings, 2 workers, spike probability 0.01 (many alerts, so many
//! actions to deliver). Prints events/s for both runs, the ratio dead/healthy, and what the
//! delivery log counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tributary::connectors::actions::DeliveryContext;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::webhook::{WebhookConfig, WebhookSink};
use tributary::engine::delivery::{ActionSink, DeliveryCounters, DeliveryLog};
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::pipelines::iot;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().map_or(Ok(2_000_000), |a| a.parse())?;
    let workers: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let spikes: f64 = args.next().map_or(Ok(0.01), |a| a.parse())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let healthy = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });
    let dead = format!(
        "http://{}/hook",
        std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?
    );

    let (healthy_rate, healthy_counts) = measure(&healthy, events, workers, spikes)?;
    let (dead_rate, dead_counts) = measure(&dead, events, workers, spikes)?;
    println!("healthy endpoint: {healthy_rate:>12.0} events/s   {healthy_counts:?}");
    println!("dead endpoint:    {dead_rate:>12.0} events/s   {dead_counts:?}");
    println!("ratio dead/healthy: {:.3}", dead_rate / healthy_rate);
    Ok(())
}

/// Runs the pipeline over `events` readings delivering to `url`; returns events/s of the
/// ingestion (start to the drained dataflow, delivery still going on) and the log's counters
/// once delivery has finished.
fn measure(url: &str, events: u64, workers: usize, spikes: f64) -> anyhow::Result<(f64, DeliveryCounters)> {
    let source = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 100,
        rate: 0,
        limit: Some(events),
        spike_probability: spikes,
        ..SensorGeneratorConfig::default()
    })?;
    let log = Arc::new(DeliveryLog::default());
    let dead_letters = Arc::new(DeadLetterQueue::default());
    let sink = Arc::new(WebhookSink::try_new(
        WebhookConfig::new(url),
        DeliveryContext::new(log.clone(), dead_letters.clone(), iot::ACTIONS),
    )?);
    let sinks: Vec<Arc<dyn ActionSink>> = vec![sink.clone() as Arc<dyn ActionSink>];
    let started = Instant::now();
    let pipeline = Runtime::start_delivering(
        RuntimeConfig::with_workers(workers),
        dead_letters,
        log.clone(),
        move |p| iot::build_delivering(p, &source, &sinks),
    )?;
    pipeline.join()?;
    let elapsed = started.elapsed().as_secs_f64();
    // The dead endpoint's actions would retry for 31 s each; stop them rather than wait.
    sink.close(Duration::from_secs(5));
    Ok((events as f64 / elapsed, log.counters()))
}
