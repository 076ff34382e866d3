//! The order-analytics pipeline: order lifecycle events → `orders` (current state),
//! `revenue_by_product` and `revenue_by_category` (hourly, corrected by late events and
//! cancellations), `status_funnel`, with every event kept in Parquet history; then SQL,
//! including a live ⋈ `history.orders` query.
//!
//! ```text
//! cargo run --example order_analytics                    # 20,000 generated orders, then three queries
//! cargo run --example order_analytics -- --source kafka://127.0.0.1:9092/orders   # serve SQL on :8080
//! ```
//!
//! History goes to `--data` (default: a fresh temporary directory, removed at exit).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use datafusion::arrow::util::pretty::pretty_format_batches;
use tributary::connectors::history::{ParquetHistoryConfig, ParquetHistoryStore};
use tributary::engine::history::HistoryStore;
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::pipelines::EventSource;
use tributary::pipelines::order_analytics::{self, OrderAnalyticsConfig, OrderGenerator, OrderGeneratorConfig};
use tributary::queries::http::AuthConfig;
use tributary::queries::{ApiConfig, ApiState, HistorySources, SqlEngine, serve};

/// The three queries of the README section.
const QUERIES: [&str; 3] = [
    "SELECT status, reached, current FROM status_funnel ORDER BY reached DESC",
    "SELECT category, window_start, orders, revenue_cents / 100.0 AS revenue
     FROM revenue_by_category WHERE window_start = (SELECT max(window_start) FROM revenue_by_category)
     ORDER BY revenue DESC",
    // Live ⋈ history: the newest hour per category against its hourly average before it.
    "SELECT r.category, r.revenue_cents / 100.0 AS newest_hour, round(h.cents / h.hours / 100.0, 2) AS hourly_avg_before
     FROM revenue_by_category r
     JOIN (SELECT category, sum(quantity * unit_price_cents) AS cents, count(DISTINCT created_at / 3600000) AS hours
           FROM history.orders
           WHERE status = 'created'
             AND created_at < (SELECT CAST(max(window_start) AS BIGINT) FROM revenue_by_category)
           GROUP BY category) h ON r.category = h.category
     WHERE r.window_start = (SELECT max(window_start) FROM revenue_by_category)
     ORDER BY r.category",
];

#[derive(Debug, Parser)]
struct Args {
    /// `generator`, `http` or `kafka://HOST:PORT/TOPIC` (JSON order events).
    #[arg(long, default_value = "generator")]
    source: EventSource,
    /// Generated orders (the generator only).
    #[arg(long, default_value_t = 20_000)]
    orders: u64,
    /// Data directory for history (default: a temporary one).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Serve the HTTP API here (loopback only: the example runs without authentication).
    /// Default for `http` and `kafka://` sources: 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<SocketAddr>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let data = args.data.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let history_config = ParquetHistoryConfig::in_data_dir(&data);
    let history_dir = history_config.dir.clone();
    let store: Arc<dyn HistoryStore> = Arc::new(ParquetHistoryStore::open(history_config)?);
    let generator = OrderGenerator::try_new(OrderGeneratorConfig {
        rate: 0,
        orders: Some(args.orders),
        ..OrderGeneratorConfig::default()
    })?;
    let source = args.source.open("tributary-order-analytics", generator)?;
    let run = Runtime::start_with_history(
        RuntimeConfig::default(),
        Arc::new(DeadLetterQueue::default()),
        Arc::default(),
        Some(store),
        move |p| order_analytics::build(p, source.as_ref(), OrderAnalyticsConfig::default()),
    )?;
    let mut state = ApiState::for_pipeline(&run);
    let sql = state
        .sql
        .as_ref()
        .clone()
        .with_history(HistorySources::new(&history_dir));
    state.sql = Arc::new(sql.clone());
    let tokio = tokio::runtime::Runtime::new()?;
    if args.source.is_generator() {
        run.join()?;
        tokio.block_on(print_queries(&sql))?;
        match args.listen {
            Some(addr) => tokio.block_on(serve_until_ctrl_c(addr, state)),
            None => Ok(()),
        }
    } else {
        let addr = args.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        tokio.block_on(serve_until_ctrl_c(addr, state))?;
        run.shutdown()?;
        Ok(())
    }
}

async fn print_queries(sql: &SqlEngine) -> anyhow::Result<()> {
    for query in QUERIES {
        let result = sql.execute(query).await?;
        println!("{query}\n{}\n", pretty_format_batches(&result.batches)?);
    }
    Ok(())
}

async fn serve_until_ctrl_c(addr: SocketAddr, state: ApiState) -> anyhow::Result<()> {
    let auth = AuthConfig::unauthenticated_loopback();
    auth.check_bind(addr)?;
    let state = state.with_config(ApiConfig {
        auth,
        ..ApiConfig::default()
    })?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "SQL at http://{addr}/v1/sql, ingest at http://{addr}/v1/ingest/{}; Ctrl-C stops",
        order_analytics::ORDERS_STREAM
    );
    serve(listener, state, async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await?;
    Ok(())
}
