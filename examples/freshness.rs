//! Freshness: how long an event takes from ingest to visible in SQL, while a generator keeps
//! the pipeline busy at a fixed input rate.
//!
//! ```text
//! cargo run --release --example freshness -- --rate 100000 --probes 1000
//! cargo run --example freshness -- --rate 10000 --probes 50   # smoke run
//! ```
//!
//! The pipeline is count/sum/avg per sensor (`aggregate_per_key`) into the keyed projection
//! `summaries`, fed by a generator at `--rate` readings/s over `--sensors` sensors. Every
//! `--probe-interval-ms` one probe reading with a sensor id no generator uses is sent with
//! `POST /v1/ingest/readings` — the same stream, so it queues behind the load — and then
//! looked up with `SELECT readings FROM summaries WHERE sensor_id = $1` over `POST /v1/sql`
//! until its row is there. A probe's freshness is from just before its ingest request to the
//! first answer that shows it: epoch cut, exchange, the aggregate, the projection sink, the
//! frontier, and the HTTP round trips on both ends. Prints p50/p99/max, and the input rate the
//! generator actually reached. The goal (issue 7) is p99 < 50 ms at 100K events/s.

#[path = "support/loopback_api.rs"]
mod loopback_api;
#[path = "support/summaries.rs"]
mod summaries;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde_json::{Value, json};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::engine::{EngineError, Pipeline, Runtime, RuntimeConfig};
use tributary::queries::ApiState;

#[derive(Debug, Parser)]
#[command(about = "Event-to-SQL freshness under a fixed input rate")]
struct Args {
    /// Generated readings per second (the load).
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Sensors the generator spreads its readings over.
    #[arg(long, default_value_t = 10_000)]
    sensors: u64,
    /// Probes to send.
    #[arg(long, default_value_t = 1_000)]
    probes: u64,
    /// Pause between probes, in milliseconds.
    #[arg(long, default_value_t = 20)]
    probe_interval_ms: u64,
    /// Seconds the load runs before the first probe.
    #[arg(long, default_value_t = 3)]
    warm_up_secs: u64,
    /// Dataflow workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

fn pipeline(p: &mut Pipeline<'_>, load: &SensorGenerator) -> Result<(), EngineError> {
    let readings = p.source("readings", load)?;
    summaries::project_summaries(p, readings)
}

/// The value at quantile `q` of sorted `micros`, in milliseconds.
fn quantile_ms(micros: &[u64], q: f64) -> f64 {
    let index = ((micros.len() as f64 - 1.0) * q).round() as usize;
    micros.get(index).map_or(0.0, |&us| us as f64 / 1000.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.rate > 0 && args.sensors > 0,
        "--rate and --sensors must be at least 1"
    );
    let load = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: args.sensors,
        rate: args.rate,
        ..SensorGeneratorConfig::default()
    })?;
    let workers = args.workers;
    let run = tokio::task::spawn_blocking(move || {
        Runtime::start(RuntimeConfig::with_workers(workers), move |p| pipeline(p, &load))
    })
    .await??;
    let api = loopback_api::LoopbackApi::start(ApiState::for_pipeline(&run)).await?;
    let (ingest_url, sql_url) = (api.url("/v1/ingest/readings"), api.url("/v1/sql"));
    let client = reqwest::Client::new();
    tokio::time::sleep(Duration::from_secs(args.warm_up_secs)).await;

    let accepted_before = api.accepted(&client, "readings").await?;
    let window = Instant::now();
    let (mut freshness, mut acks, mut polls) = (Vec::new(), Vec::new(), 0u64);
    for probe in 0..args.probes {
        // Sensor ids from 2^40 up: no generator sensor, so the row appears only with the probe.
        let sensor_id = (1i64 << 40) + probe as i64;
        let ts = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
        let line = json!({"sensor_id": sensor_id, "ts": ts, "value": 1.0}).to_string();
        let sent = Instant::now();
        let answer = client
            .post(&ingest_url)
            .header("content-type", "application/x-ndjson")
            .body(line)
            .send()
            .await?;
        anyhow::ensure!(answer.status().is_success(), "ingest: {}", answer.text().await?);
        acks.push(sent.elapsed().as_micros() as u64);
        let lookup = json!({"sql": "SELECT readings FROM summaries WHERE sensor_id = $1", "params": [sensor_id]});
        loop {
            polls += 1;
            let body: Value = client.post(&sql_url).json(&lookup).send().await?.json().await?;
            if body["rows"].as_array().is_some_and(|rows| !rows.is_empty()) {
                break;
            }
            anyhow::ensure!(
                sent.elapsed() < Duration::from_secs(30),
                "probe {probe} not visible after 30 s: {body}"
            );
        }
        freshness.push(sent.elapsed().as_micros() as u64);
        tokio::time::sleep(Duration::from_millis(args.probe_interval_ms)).await;
    }
    let elapsed = window.elapsed().as_secs_f64();
    let load_rate = (api
        .accepted(&client, "readings")
        .await?
        .saturating_sub(accepted_before + args.probes)) as f64
        / elapsed;

    freshness.sort_unstable();
    acks.sort_unstable();
    println!(
        "load: {load_rate:.0} readings/s generated (asked {}), {} sensors, {} workers",
        args.rate, args.sensors, args.workers
    );
    println!(
        "freshness over {} probes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.1} lookups per probe)",
        freshness.len(),
        quantile_ms(&freshness, 0.5),
        quantile_ms(&freshness, 0.99),
        quantile_ms(&freshness, 1.0),
        polls as f64 / args.probes.max(1) as f64
    );
    println!(
        "ingest answer: p50 {:.2} ms, p99 {:.2} ms",
        quantile_ms(&acks, 0.5),
        quantile_ms(&acks, 0.99)
    );

    api.stop().await?;
    tokio::task::spawn_blocking(move || run.shutdown()).await??;
    Ok(())
}
