//! The notifications pipeline: delivery events → `notification_state` (the delivery state
//! machine, retries counted), `user_digest` (per user and day), `delivery_lag` (per
//! channel), failed notifications in the dead-letter queue; then SQL.
//!
//! ```text
//! cargo run --example notifications                      # 20,000 generated notifications, then three queries
//! cargo run --example notifications -- --source kafka://127.0.0.1:9092/notifications   # serve on :8080
//! ```
//!
//! While serving, `curl -N http://127.0.0.1:8080/v1/subscribe/notification_state` follows
//! every state change (SSE).

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use datafusion::arrow::util::pretty::pretty_format_batches;
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::pipelines::EventSource;
use tributary::pipelines::notifications::{
    self, NotificationGenerator, NotificationGeneratorConfig, NotificationsConfig,
};
use tributary::queries::http::AuthConfig;
use tributary::queries::{ApiConfig, ApiState, serve};

/// The three queries of the README section.
const QUERIES: [&str; 3] = [
    "SELECT state, count(*) AS notifications, sum(retries) AS retries FROM notification_state GROUP BY state ORDER BY notifications DESC",
    "SELECT user_id, day, notifications, delivered, failed, open, retries FROM user_digest WHERE user_id = 7 ORDER BY day LIMIT 5",
    "SELECT d.channel, d.delivered, round(d.avg_ms) AS avg_ms, d.max_ms, f.failed
     FROM delivery_lag d JOIN (SELECT channel, count(*) AS failed FROM notification_state WHERE state = 'failed' GROUP BY channel) f
       ON d.channel = f.channel ORDER BY d.channel",
];

#[derive(Debug, Parser)]
struct Args {
    /// `generator`, `http` or `kafka://HOST:PORT/TOPIC` (JSON delivery events).
    #[arg(long, default_value = "generator")]
    source: EventSource,
    /// Generated notifications (the generator only).
    #[arg(long, default_value_t = 20_000)]
    notifications: u64,
    /// Serve the HTTP API here (loopback only: the example runs without authentication).
    /// Default for `http` and `kafka://` sources: 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<SocketAddr>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let generator = NotificationGenerator::try_new(NotificationGeneratorConfig {
        rate: 0,
        notifications: Some(args.notifications),
        ..NotificationGeneratorConfig::default()
    })?;
    let source = args.source.open("tributary-notifications", generator)?;
    let dead_letters = Arc::new(DeadLetterQueue::default());
    let dlq = dead_letters.clone();
    let run = Runtime::start_with(RuntimeConfig::default(), dead_letters, move |p| {
        notifications::build(p, source.as_ref(), NotificationsConfig::default(), &dlq)
    })?;
    let state = ApiState::for_pipeline(&run);
    let sql = state.sql.clone();
    let tokio = tokio::runtime::Runtime::new()?;
    if args.source.is_generator() {
        run.join()?;
        tokio.block_on(async {
            for query in QUERIES {
                let result = sql.execute(query).await?;
                println!("{query}\n{}\n", pretty_format_batches(&result.batches)?);
            }
            anyhow::Ok(())
        })?;
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

async fn serve_until_ctrl_c(addr: SocketAddr, state: ApiState) -> anyhow::Result<()> {
    let auth = AuthConfig::unauthenticated_loopback();
    auth.check_bind(addr)?;
    let state = state.with_config(ApiConfig {
        auth,
        ..ApiConfig::default()
    })?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "SQL at http://{addr}/v1/sql, ingest at http://{addr}/v1/ingest/{}, changes at http://{addr}/v1/subscribe/{}; Ctrl-C stops",
        notifications::EVENTS_STREAM,
        notifications::NOTIFICATION_STATE
    );
    serve(listener, state, async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await?;
    Ok(())
}
