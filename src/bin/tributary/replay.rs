//! `tributary replay`: the IoT pipeline over the history of an earlier run, as fast as the
//! machine allows, then its projections served over SQL or written to Parquet.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Deserialize;
use tributary::connectors::history::{HistoryReplay, ReplayOptions};
use tributary::engine::history::manifest::{MANIFEST_FILE, read_manifest};
use tributary::engine::{LiveCatalog, Runtime};
use tributary::pipelines::iot;
use tributary::queries::{ApiConfig, ApiState, HistorySources, serve};

use crate::progress::Reporter;

/// Arguments of `tributary replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Data directory of an earlier `tributary demo` run; its history is `DIR/history`.
    #[arg(long, required_unless_present = "history")]
    data: Option<PathBuf>,
    /// A history directory (any folder with `_manifest.ndjson`) to replay instead of
    /// `DIR/history`.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Replay only readings with event time at or before this: epoch milliseconds or an
    /// RFC 3339 timestamp.
    #[arg(long)]
    until: Option<String>,
    /// Once replayed, serve SQL on the projections (and `history.*`) here until Ctrl-C.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Once replayed, write every projection to `OUT/<projection>.parquet`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads. Default: as many as the run that wrote the history, which is what
    /// makes the projections equal the live ones bit for bit.
    #[arg(long)]
    workers: Option<usize>,
}

/// `--until` as epoch milliseconds, parsed like a record's event time.
#[derive(Deserialize)]
struct Until(#[serde(deserialize_with = "tributary::engine::record::event_time_ms")] i64);

fn parse_until(text: &str) -> anyhow::Result<i64> {
    let value = match text.parse::<i64>() {
        Ok(ms) => serde_json::Value::from(ms),
        Err(_) => serde_json::Value::from(text),
    };
    let Until(ms) = serde_json::from_value(value)
        .with_context(|| format!("--until {text}: expected epoch milliseconds or an RFC 3339 timestamp"))?;
    Ok(ms)
}

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let dir = history_dir(args.data.as_deref(), args.history.as_deref())?;
    let until = args.until.as_deref().map(parse_until).transpose()?;
    let catalog = replay_history(&dir, args.workers, until)?;
    if let Some(out) = &args.out {
        write_projections(&catalog, out)?;
    }
    match args.listen {
        Some(listen) => serve_results(catalog, &dir, listen),
        None => {
            print_summary(&catalog)?;
            Ok(())
        }
    }
}

/// `--history`, else `--data`'s `history/`.
pub fn history_dir(data: Option<&Path>, history: Option<&Path>) -> anyhow::Result<PathBuf> {
    match (history, data) {
        (Some(history), _) => Ok(history.to_path_buf()),
        (None, Some(data)) => Ok(data.join("history")),
        (None, None) => anyhow::bail!("give --data DIR or --history DIR"),
    }
}

/// Runs the IoT pipeline over the history in `dir` to its end, reporting progress; by
/// default on as many workers as wrote it.
pub fn replay_history(dir: &Path, workers: Option<usize>, until: Option<i64>) -> anyhow::Result<Arc<LiveCatalog>> {
    let files = read_manifest(&dir.join(MANIFEST_FILE)).with_context(|| format!("cannot read {}", dir.display()))?;
    anyhow::ensure!(!files.is_empty(), "{} holds no committed history", dir.display());
    let workers = workers.unwrap_or_else(|| files.iter().map(|f| f.worker + 1).max().unwrap_or(1));
    let source = HistoryReplay::open(
        iot::READINGS,
        ReplayOptions {
            dir: dir.to_path_buf(),
            until,
        },
    )?;
    let reporter = Reporter::spawn(source.progress());
    let started = Instant::now();
    let pipeline = Runtime::start(ReplayOptions::runtime_config(workers), move |p| iot::build(p, &source))?;
    let catalog = pipeline.catalog();
    pipeline.join()?;
    let replayed = reporter.finish();
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        events = replayed,
        workers,
        seconds,
        events_per_s = replayed as f64 / seconds.max(1e-9),
        "replay done"
    );
    Ok(catalog)
}

/// Writes each projection to `out/<name>.parquet`.
fn write_projections(catalog: &LiveCatalog, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for name in catalog.table_names() {
        let Some(table) = catalog.table(&name) else {
            continue;
        };
        let batch = table.snapshot()?;
        let path = out.join(format!("{name}.parquet"));
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
        writer.write(&batch)?;
        writer.close()?;
        tracing::info!(projection = %name, rows = batch.num_rows(), path = %path.display(), "projection written");
    }
    Ok(())
}

fn print_summary(catalog: &LiveCatalog) -> anyhow::Result<()> {
    for name in catalog.table_names() {
        if let Some(table) = catalog.table(&name) {
            println!("{name}: {} rows", table.snapshot()?.num_rows());
        }
    }
    Ok(())
}

/// Serves SQL on the replayed projections and on `history.*` until Ctrl-C.
fn serve_results(catalog: Arc<LiveCatalog>, dir: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let auth = crate::auth::from_env(listen)?;
    let mut state = ApiState::from_catalog(catalog).with_config(ApiConfig {
        auth,
        ..ApiConfig::default()
    })?;
    state.sql = Arc::new(state.sql.as_ref().clone().with_history(HistorySources::new(dir)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(addr = %listener.local_addr()?, "serving the replayed projections; Ctrl-C stops");
        serve(listener, state, async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
        .context("HTTP server failed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_takes_milliseconds_or_rfc_3339() -> anyhow::Result<()> {
        assert_eq!(parse_until("1767225600000")?, 1_767_225_600_000);
        assert_eq!(parse_until("2026-01-01T00:00:00Z")?, 1_767_225_600_000);
        assert!(parse_until("yesterday").is_err());
        Ok(())
    }
}
