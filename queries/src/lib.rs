//! # Tributary queries
//!
//! The read side of Tributary: SQL over live projections, served over HTTP.
//!
//! ```text
//!  POST /v1/sql {"sql": …}
//!        │
//!        ▼
//!  http::router ──> sql::SqlEngine::execute
//!                      1. parse (DataFusion's parser); refuse anything but a read (403)
//!                      2. resolve the tables the statement names
//!                      3. pin the LiveCatalog at one frontier and snapshot those tables
//!                      4. plan + verify read-only (DataFusion SQLOptions) + execute
//!                      ▼
//!  {"columns": [...], "rows": [[...]], "as_of": <frontier>}
//! ```
//!
//! Every projection a statement reads is snapshotted under one
//! [`CatalogRead`](tributary_engine::CatalogRead), so a join of two projections never mixes
//! two frontiers, and the response's `as_of` names the frontier it saw.
//!
//! * [`sql`] — the SQL engine, its guard and its errors;
//! * [`http`] — the axum router, handlers and the JSON response format.
#![deny(missing_docs)]

pub mod http;
pub mod sql;

pub use http::{ApiState, router, serve};
pub use sql::{QueryError, QueryResult, SqlEngine};
