//! `tributary-nexmark`: runs one Nexmark query over generated events at full speed and
//! prints its throughput.
//!
//! ```text
//! cargo run --release -p tributary-nexmark -- --query q5 --events 10000000 [--workers 2]
//! query=q5 events=10000000 workers=1 seconds=… events/s=… events/s/core=… flink_ratio=… output_updates=…
//! ```
//!
//! `flink_ratio` is events/s per core over Flink's published figure per core for the query
//! (see `Query::flink_events_per_second_per_core`).

use anyhow::Context;
use clap::Parser;
use tributary_engine::RuntimeConfig;
use tributary_nexmark::{NexmarkConfig, NexmarkGenerator, Query};

/// Run a Nexmark query on Tributary and report its throughput.
#[derive(Debug, Parser)]
#[command(name = "tributary-nexmark")]
struct Args {
    /// The query: q0, q1, q2, q3, q4, q5, q7 or q8.
    #[arg(long)]
    query: Query,
    /// Events to generate (people, auctions and bids in the 1:3:46 mix).
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Events per second of event time (not of wall-clock time: the source runs flat out).
    #[arg(long, default_value_t = 10_000)]
    events_per_second: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let generator = NexmarkGenerator::try_new(NexmarkConfig {
        events: args.events,
        seed: args.seed,
        events_per_second: args.events_per_second,
        ..NexmarkConfig::default()
    })?;
    let runtime = RuntimeConfig::with_workers(args.workers);
    let m = args
        .query
        .measure(&generator, runtime)
        .with_context(|| format!("running {}", args.query))?;
    println!(
        "query={} events={} workers={} seconds={:.3} events/s={:.0} events/s/core={:.0} flink_ratio={:.2} output_updates={}",
        args.query,
        m.events,
        m.workers,
        m.seconds,
        m.events_per_second(),
        m.events_per_second_per_core(),
        m.events_per_second_per_core() / args.query.flink_events_per_second_per_core(),
        m.output_updates
    );
    Ok(())
}
