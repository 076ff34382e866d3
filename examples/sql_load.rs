//! SQL point-lookup load: a projection of `--keys` sensors (default 1M) updated by a
//! generator while `--clients` concurrent HTTP clients (default 64) run point lookups by key
//! over `POST /v1/sql`, with one scan every `--scan-every` requests, for `--duration-secs`.
//!
//! ```text
//! cargo run --release --example sql_load -- --keys 1000000 --duration-secs 30
//! cargo run --example sql_load -- --keys 2000 --duration-secs 3 --clients 8   # smoke run
//! ```
//!
//! Prints requests, errors and p50/p99 latency for lookups and scans, how many readings
//! were ingested meanwhile, and (on Linux) the resident memory per key once preloaded.
//! The target (issue 6/7) is a lookup p99 under 1 ms in release.

#[path = "support/loopback_api.rs"]
mod loopback_api;
#[path = "support/summaries.rs"]
mod summaries;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::engine::{EngineError, Pipeline, Runtime, RuntimeConfig};
use tributary::queries::ApiState;

#[derive(Debug, Parser)]
#[command(about = "SQL point lookups under ingest")]
struct Args {
    /// Keys in the projection (sensors).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// How long the clients run, in seconds.
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// One request in this many is a full scan (`0`: none).
    #[arg(long, default_value_t = 100)]
    scan_every: u64,
    /// Readings per second ingested while the clients run.
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// Dataflow workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Plan every lookup with DataFusion instead of the key-lookup fast path (the baseline).
    #[arg(long)]
    no_fast_path: bool,
}

/// Every key once (`preload`), then the live readings, into `summaries`.
fn pipeline(p: &mut Pipeline<'_>, preload: &SensorGenerator, live: &SensorGenerator) -> Result<(), EngineError> {
    let preloaded = p.source("preload", preload)?;
    let readings = p.source("readings", live)?.concat(preloaded);
    summaries::project_summaries(p, readings)
}

/// Latencies of one kind of request, in microseconds.
#[derive(Debug, Default)]
struct Latencies {
    micros: Vec<u64>,
    errors: u64,
    /// What the first failed request said, to tell a limit from a bug.
    first_error: Option<String>,
}

impl Latencies {
    fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn report(&mut self, what: &str) {
        self.micros.sort_unstable();
        let at = |q: f64| {
            let index = ((self.micros.len() as f64 - 1.0) * q).round() as usize;
            self.micros.get(index).map_or(0.0, |&us| us as f64 / 1000.0)
        };
        println!(
            "{what}: {} requests, {} errors, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            self.micros.len() as u64 + self.errors,
            self.errors,
            at(0.5),
            at(0.99),
            at(1.0)
        );
        if let Some(error) = &self.first_error {
            println!("  first error: {error}");
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.keys > 0 && args.clients > 0,
        "--keys and --clients must be at least 1"
    );
    let preload = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: args.keys,
        rate: 0,
        limit: Some(args.keys),
        ..SensorGeneratorConfig::default()
    })?;
    let live = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: args.keys,
        rate: args.rate,
        seed: 7,
        ..SensorGeneratorConfig::default()
    })?;
    let workers = args.workers;
    let resident_before = resident_bytes();
    let run = tokio::task::spawn_blocking(move || {
        Runtime::start(RuntimeConfig::with_workers(workers), move |p| {
            pipeline(p, &preload, &live)
        })
    })
    .await??;
    let mut state = ApiState::for_pipeline(&run);
    if args.no_fast_path {
        state.sql = Arc::new(state.sql.as_ref().clone().without_fast_path());
    }
    let api = loopback_api::LoopbackApi::start(state).await?;
    let url = api.url("/v1/sql");
    let client = reqwest::Client::new();

    // Preload: every key present before the clients start.
    let started = Instant::now();
    loop {
        let body: Value = client
            .post(&url)
            .json(&json!({"sql": "SELECT count(*) FROM summaries"}))
            .send()
            .await?
            .json()
            .await?;
        if body["rows"][0][0].as_u64() == Some(args.keys) {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "preload did not finish: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "preloaded {} keys in {:.1} s; running {} clients for {} s",
        args.keys,
        started.elapsed().as_secs_f64(),
        args.clients,
        args.duration_secs
    );
    if let (Some(before), Some(after)) = (resident_before, resident_bytes()) {
        println!(
            "memory: {:.0} MiB resident before the pipeline, {:.0} MiB with the keys loaded: {:.0} bytes per key \
             (arrangement, live table and everything else the process grew by)",
            before as f64 / f64::from(1 << 20),
            after as f64 / f64::from(1 << 20),
            after.saturating_sub(before) as f64 / args.keys as f64
        );
    }

    let ingested_before = api.accepted(&client, "readings").await?;
    let done = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (client, url, done) = (client.clone(), url.clone(), done.clone());
        let (keys, scan_every) = (args.keys, args.scan_every);
        tasks.push(tokio::spawn(async move {
            let mut lookups = Latencies::default();
            let mut scans = Latencies::default();
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ c as u64;
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                n += 1;
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let scan = scan_every > 0 && n.is_multiple_of(scan_every);
                let body = if scan {
                    json!({"sql": "SELECT count(*), sum(readings) FROM summaries"})
                } else {
                    json!({"sql": "SELECT * FROM summaries WHERE sensor_id = $1", "params": [seed % keys]})
                };
                let t = Instant::now();
                let outcome = match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.map(|_| ()).map_err(|e| e.to_string()),
                    Ok(r) => Err(format!("status {}: {}", r.status(), r.text().await.unwrap_or_default())),
                    Err(e) => Err(e.to_string()),
                };
                let slot = if scan { &mut scans } else { &mut lookups };
                match outcome {
                    Ok(()) => slot.micros.push(t.elapsed().as_micros() as u64),
                    Err(error) => {
                        slot.errors += 1;
                        slot.first_error.get_or_insert(error);
                    }
                }
            }
            (lookups, scans)
        }));
    }
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration_secs)).await;
    done.store(true, Ordering::Relaxed);
    let mut lookups = Latencies::default();
    let mut scans = Latencies::default();
    for task in tasks {
        let (l, s) = task.await?;
        lookups.merge(l);
        scans.merge(s);
    }
    let elapsed = window.elapsed().as_secs_f64();
    let ingested_after = api.accepted(&client, "readings").await?;
    println!(
        "{:.1} s: {:.0} requests/s; {} readings ingested meanwhile ({:.0}/s)",
        elapsed,
        (lookups.micros.len() + scans.micros.len()) as f64 / elapsed,
        ingested_after.saturating_sub(ingested_before),
        ingested_after.saturating_sub(ingested_before) as f64 / elapsed
    );
    lookups.report("point lookups");
    scans.report("scans");

    api.stop().await?;
    tokio::task::spawn_blocking(move || run.shutdown()).await??;
    Ok(())
}

/// The process's resident memory (`VmRSS`), where `/proc` tells it (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
