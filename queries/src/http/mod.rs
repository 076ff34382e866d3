//! The HTTP API: a short router and one handler module per resource.

mod config;
mod error;
mod format;
mod health;
mod ingest;
mod json;
mod sql;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tributary_engine::ingest::IngestRegistry;
use tributary_engine::{LiveCatalog, RunningPipeline};

pub use config::{ApiConfig, ApiConfigError};
pub use error::ApiError;
pub use format::{AS_OF_HEADER, Format, TRUNCATED_HEADER};
pub use json::{JsonColumn, JsonResult, encode_result};
pub use sql::SqlRequest;

use crate::SqlEngine;

/// Largest accepted request body for `/v1/sql`: 1 MiB.
pub const MAX_SQL_BODY_BYTES: usize = 1 << 20;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The SQL engine over the live catalog and the `system` tables.
    pub sql: Arc<SqlEngine>,
    /// The streams open to `POST /v1/ingest/{stream}`.
    pub ingest: Arc<IngestRegistry>,
    /// Limits and timeouts.
    pub config: ApiConfig,
}

impl ApiState {
    /// The API of a running pipeline: SQL over its projections and `system` tables, ingest
    /// into its streams, default settings.
    pub fn for_pipeline(pipeline: &RunningPipeline) -> Self {
        Self {
            sql: Arc::new(SqlEngine::for_pipeline(pipeline)),
            ingest: pipeline.ingest(),
            config: ApiConfig::default(),
        }
    }

    /// SQL over `catalog` alone: no stream is open to ingest and the `system` tables are
    /// empty (tests and tools that have projections but no running pipeline).
    pub fn from_catalog(catalog: Arc<LiveCatalog>) -> Self {
        Self {
            sql: Arc::new(SqlEngine::new(catalog)),
            ingest: Arc::new(IngestRegistry::default()),
            config: ApiConfig::default(),
        }
    }

    /// The same API with `config`, once it is checked.
    pub fn with_config(self, config: ApiConfig) -> Result<Self, ApiConfigError> {
        config.validate()?;
        Ok(Self { config, ..self })
    }
}

/// The API's routes. Each route has its own body limit; a wrong method answers `405` in JSON.
pub fn router(state: ApiState) -> Router {
    let ingest_limit = state.config.max_ingest_body_bytes;
    Router::new()
        .route(
            "/v1/sql",
            post(sql::run_sql)
                .layer(DefaultBodyLimit::max(MAX_SQL_BODY_BYTES))
                .fallback(|| async { error::method_not_allowed("POST") }),
        )
        .route(
            "/v1/ingest/{stream}",
            post(ingest::ingest)
                .layer(DefaultBodyLimit::max(ingest_limit))
                .fallback(|| async { error::method_not_allowed("POST") }),
        )
        .route(
            "/healthz",
            get(health::healthz).fallback(|| async { error::method_not_allowed("GET, HEAD") }),
        )
        .fallback(error::not_found)
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
