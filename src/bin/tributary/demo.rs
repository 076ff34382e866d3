//! `tributary demo`: the IoT pipeline on the generator, served over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::{ApiState, serve};

/// Arguments of `tributary demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address to serve the HTTP API on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory, created if missing. Parquet history and recovery will live here; for
    /// now nothing is written to it.
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
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create data directory {}", args.data.display()))?;
    let generator = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: args.sensors,
        rate: args.rate,
        seed: args.seed,
        ..SensorGeneratorConfig::default()
    })?;
    let mut config = RuntimeConfig::default();
    if let Some(workers) = args.workers {
        config.workers = workers;
    }
    let workers = config.workers;
    let pipeline = Runtime::start(config, move |p| iot::build(p, &generator))?;
    let state = ApiState::for_pipeline(&pipeline);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, workers, sensors = args.sensors, rate = args.rate, data = %args.data.display(), "tributary demo running; Ctrl-C stops it");
        tracing::info!(data = %args.data.display(), "Parquet history and recovery are not implemented yet: nothing is written to the data directory, and a restart starts from scratch");
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
    tracing::info!("stopped");
    Ok(())
}

fn print_examples(addr: SocketAddr) {
    println!(
        r#"
Tributary demo: IoT pipeline on the sensor generator, SQL at http://{addr}/v1/sql

  curl -s http://{addr}/v1/sql -H 'content-type: application/json' \
       -d '{{"sql": "SELECT sensor_id, count, avg FROM sensor_stats ORDER BY sensor_id LIMIT 5"}}'

  cargo run -q -- sql "SELECT count(*) AS sensors, sum(count) AS readings FROM sensor_stats" --server http://{addr}
"#
    );
}
