//! The HTTP API: a short router and one handler module per resource.

mod error;
mod health;
mod json;
mod sql;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use error::ApiError;
pub use json::{JsonColumn, JsonResult, encode_result};
pub use sql::SqlRequest;

use crate::SqlEngine;

/// Largest accepted request body for `/v1/sql`: 1 MiB.
pub const MAX_SQL_BODY_BYTES: usize = 1 << 20;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The SQL engine over the live catalog.
    pub sql: Arc<SqlEngine>,
}

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/sql", post(sql::run_sql))
        .route("/healthz", get(health::healthz))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_SQL_BODY_BYTES))
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
