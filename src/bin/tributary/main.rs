//! The `tributary` command line: `demo` runs the IoT pipeline and serves SQL; `replay` runs
//! it over the history of an earlier run; `verify` checks projections against history;
//! `sql` queries a running server.

mod auth;
mod demo;
mod progress;
mod replay;
mod source_arg;
mod sql;
mod table;
mod verify;

use clap::{Parser, Subcommand};

/// Tributary: a stream-processing dataflow engine with SQL over live projections.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the IoT reference pipeline (generator, HTTP, MQTT or Kafka source) and serve SQL.
    Demo(demo::DemoArgs),
    /// Replay the IoT pipeline over the history of an earlier run, as fast as possible, then
    /// serve SQL on the result (`--listen`) or write the projections to Parquet (`--out`).
    Replay(replay::ReplayArgs),
    /// Run one SQL query against a running server and print the result as a table.
    Sql(sql::SqlArgs),
    /// Recompute the projections from history (replay, and batch SQL over `history.*`) and
    /// compare them, also with a running server's (`--server`); non-zero exit on a mismatch.
    Verify(verify::VerifyArgs),
}

fn main() -> anyhow::Result<()> {
    init_tracing();
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Sql(args) => sql::run(args),
        Command::Verify(args) => verify::run(args),
    }
}

/// Human-readable logs on a terminal, JSON lines otherwise; `RUST_LOG` filters.
fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}
