//! The HTTP API: a short router and one handler module per resource, all behind one
//! access-control layer ([`access`]: authentication, scopes, rate limit, audit, metrics).

pub mod access;
mod config;
mod error;
mod format;
mod health;
mod ingest;
mod json;
mod ready;
mod scrape;
mod sql;
mod subscribe;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tributary_engine::ingest::IngestRegistry;
use tributary_engine::runtime::PipelineHealth;
use tributary_engine::{LiveCatalog, RunningPipeline};

pub use access::{AccessControl, AuthConfig, AuthConfigError, JwtConfig, JwtKey, RateLimitConfig, Secret};
pub use config::{ApiConfig, ApiConfigError};
pub use error::ApiError;
pub use format::{AS_OF_HEADER, Format, TRUNCATED_HEADER};
pub use json::{JsonColumn, JsonResult, encode_result};
pub use sql::SqlRequest;
pub use subscribe::{RowChange, SubscribeConfig, SubscribeMessage, SubscriptionShutdown};

use crate::SqlEngine;
use crate::audit::AuditLog;
use crate::metrics::{Metrics, PipelineCollector};

/// Largest accepted request body for `/v1/sql`: 1 MiB.
pub const MAX_SQL_BODY_BYTES: usize = 1 << 20;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The SQL engine over the live catalog and the `system` tables.
    pub sql: Arc<SqlEngine>,
    /// The streams open to `POST /v1/ingest/{stream}`.
    pub ingest: Arc<IngestRegistry>,
    /// Limits, timeouts, authentication and rate-limit settings.
    pub config: ApiConfig,
    /// Ends open subscriptions when the server stops ([`serve`] does it).
    pub subscriptions: SubscriptionShutdown,
    /// Authentication and rate limiting built from `config` (see [`ApiState::with_config`]).
    pub access: Arc<AccessControl>,
    /// Where ingest and admin calls are recorded (also `system.audit`).
    pub audit: Arc<AuditLog>,
    /// What `/metrics` renders.
    pub metrics: Arc<Metrics>,
    /// What `/readyz` reports.
    pub health: Arc<PipelineHealth>,
}

impl ApiState {
    /// The API of a running pipeline: SQL over its projections and `system` tables, ingest
    /// into its streams, default settings.
    ///
    /// Authentication is not configured yet: choose it with [`ApiState::with_config`].
    pub fn for_pipeline(pipeline: &RunningPipeline) -> Self {
        let metrics = Metrics::default();
        metrics.register_collector(Box::new(PipelineCollector::for_pipeline(pipeline)));
        let audit = Arc::new(AuditLog::default());
        Self {
            sql: Arc::new(SqlEngine::for_pipeline(pipeline).with_audit(audit.clone())),
            ingest: pipeline.ingest(),
            config: ApiConfig::default(),
            subscriptions: SubscriptionShutdown::default(),
            access: Arc::new(AccessControl::deny_all(&ApiConfig::default().rate_limit)),
            audit,
            metrics: Arc::new(metrics),
            health: pipeline.health(),
        }
    }

    /// SQL over `catalog` alone: no stream is open to ingest and the `system` tables are
    /// empty (tests and tools that have projections but no running pipeline).
    pub fn from_catalog(catalog: Arc<LiveCatalog>) -> Self {
        let audit = Arc::new(AuditLog::default());
        Self {
            sql: Arc::new(SqlEngine::new(catalog).with_audit(audit.clone())),
            ingest: Arc::new(IngestRegistry::default()),
            config: ApiConfig::default(),
            subscriptions: SubscriptionShutdown::default(),
            access: Arc::new(AccessControl::deny_all(&ApiConfig::default().rate_limit)),
            audit,
            metrics: Arc::new(Metrics::default()),
            health: Arc::new(PipelineHealth::default()),
        }
    }

    /// The same API with `config`, once it is checked.
    pub fn with_config(self, config: ApiConfig) -> Result<Self, ApiConfigError> {
        config.validate()?;
        let access = Arc::new(AccessControl::new(&config.auth, &config.rate_limit)?);
        Ok(Self { config, access, ..self })
    }

    /// The same API recording to `audit` (e.g. [`AuditLog::open`] under the data
    /// directory), which `system.audit` then reads.
    pub fn with_audit(self, audit: Arc<AuditLog>) -> Self {
        let sql = Arc::new(self.sql.as_ref().clone().with_audit(audit.clone()));
        Self { sql, audit, ..self }
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
            "/v1/subscribe/{projection}",
            get(subscribe::subscribe).fallback(|| async { error::method_not_allowed("GET, HEAD") }),
        )
        .route(
            "/healthz",
            get(health::healthz).fallback(|| async { error::method_not_allowed("GET, HEAD") }),
        )
        .route(
            "/readyz",
            get(ready::readyz).fallback(|| async { error::method_not_allowed("GET, HEAD") }),
        )
        .route(
            "/metrics",
            get(scrape::metrics).fallback(|| async { error::method_not_allowed("GET, HEAD") }),
        )
        .fallback(error::not_found)
        // Last, so it wraps every route above and the fallback (see `access`).
        .layer(axum::middleware::from_fn_with_state(state.clone(), access::enforce))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes; open subscriptions then end with
/// `closed` so the graceful shutdown does not wait for them.
///
/// Refuses (`InvalidInput`, with [`AuthConfigError`]'s message) when authentication is not
/// configured, or is off and `listener` is not on a loopback address.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state
        .config
        .auth
        .check_bind(listener.local_addr()?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let subscriptions = state.subscriptions.clone();
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        subscriptions.stop();
    })
    .await
}
