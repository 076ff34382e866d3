//! The activity-feed pipeline: post events → `posts`, `feed_global` (newest 1,000) and
//! `feed_user` (newest 100 per user), then SQL over them.
//!
//! ```text
//! cargo run --example activity_feed                      # 50,000 generated events, then three queries
//! cargo run --example activity_feed -- --source kafka://127.0.0.1:9092/posts   # serve SQL on :8080
//! ```
//!
//! With the generator (the default) the example runs to the end of its events and prints
//! three queries; `--listen` also serves the HTTP API afterwards. With `--source http` or
//! `kafka://…` it serves `POST /v1/sql` and `POST /v1/ingest/post_events` until Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use datafusion::arrow::util::pretty::pretty_format_batches;
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::EventSource;
use tributary::pipelines::activity_feed::{self, ActivityFeedConfig, PostGenerator, PostGeneratorConfig};
use tributary::queries::http::AuthConfig;
use tributary::queries::{ApiConfig, ApiState, SqlEngine, serve};

/// The three queries of the README section.
const QUERIES: [&str; 3] = [
    "SELECT post_id, user_id, created_at, text FROM feed_global ORDER BY created_at DESC, post_id DESC LIMIT 5",
    "SELECT post_id, created_at, updated_at, text FROM feed_user WHERE user_id = 42 ORDER BY created_at DESC, post_id DESC LIMIT 5",
    "SELECT user_id, count(*) AS in_global_feed, max(created_at) AS newest FROM feed_global
     GROUP BY user_id ORDER BY in_global_feed DESC, user_id LIMIT 5",
];

#[derive(Debug, Parser)]
struct Args {
    /// `generator`, `http` or `kafka://HOST:PORT/TOPIC` (JSON post events).
    #[arg(long, default_value = "generator")]
    source: EventSource,
    /// Generated events (the generator only).
    #[arg(long, default_value_t = 50_000)]
    events: u64,
    /// Generated authors (the generator only).
    #[arg(long, default_value_t = 1_000)]
    users: u64,
    /// Serve the HTTP API here (loopback only: the example runs without authentication).
    /// Default for `http` and `kafka://` sources: 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<SocketAddr>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let generator = PostGenerator::try_new(PostGeneratorConfig {
        users: args.users,
        rate: 0,
        limit: Some(args.events),
        ..PostGeneratorConfig::default()
    })?;
    let source = args.source.open("tributary-activity-feed", generator)?;
    let run = Runtime::start(RuntimeConfig::default(), move |p| {
        activity_feed::build(p, source.as_ref(), ActivityFeedConfig::default())
    })?;
    let tokio = tokio::runtime::Runtime::new()?;
    let listen = match (args.listen, args.source.is_generator()) {
        (Some(addr), _) => Some(addr),
        (None, true) => None,
        (None, false) => Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
    };
    if args.source.is_generator() {
        let catalog = run.catalog();
        let state = ApiState::for_pipeline(&run);
        run.join()?;
        tokio.block_on(print_queries(catalog))?;
        match listen {
            Some(addr) => tokio.block_on(serve_until_ctrl_c(addr, state)),
            None => Ok(()),
        }
    } else {
        let addr = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        tokio.block_on(serve_until_ctrl_c(addr, ApiState::for_pipeline(&run)))?;
        run.shutdown()?;
        Ok(())
    }
}

async fn print_queries(catalog: Arc<LiveCatalog>) -> anyhow::Result<()> {
    let sql = SqlEngine::new(catalog);
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
        activity_feed::POSTS_STREAM
    );
    serve(listener, state, async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
    .await?;
    Ok(())
}
