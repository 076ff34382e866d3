//! # Tributary queries
//!
//! The read side of Tributary — SQL over live projections and the pipeline's own state —
//! and the HTTP front door of its streams, served over HTTP.
//!
//! ```text
//!  POST /v1/sql {"sql": …}                         POST /v1/ingest/{stream} (object, array, NDJSON)
//!        │                                                │ body limit (413), unknown stream (404)
//!        ▼                                                ▼
//!  http::router ──> sql::SqlEngine::execute         engine IngestRegistry::endpoint(stream)
//!    1. parse (DataFusion's parser); refuse           split + decode; bad lines ──> DLQ
//!       anything but a read (403)                     good lines ──> workers (busy/closed: 503)
//!    2. resolve the tables the statement names        │
//!    3. pin the LiveCatalog at one frontier and       ▼
//!       snapshot those tables; build the named     {"accepted", "rejected", "errors": [{line, reason}],
//!       system.* tables (streams, dlq, frontiers)     "ticket"}   ── ticket: first as_of showing them
//!       from counters and the dead-letter queue
//!    4. plan + verify read-only (DataFusion SQLOptions) + execute
//!        ▼
//!  {"columns": [...], "rows": [[...]], "as_of": <frontier>}
//! ```
//!
//! Every projection a statement reads is snapshotted under one
//! [`CatalogRead`](tributary_engine::CatalogRead), so a join of two projections never mixes
//! two frontiers, and the response's `as_of` names the frontier it saw. An ingest answers
//! with a ticket: a query whose `as_of` is at least the ticket sees the accepted records
//! (read-your-writes).
//!
//! * [`sql`] — the SQL engine, its guard, the `system` tables and its errors;
//! * [`http`] — the axum router, handlers (SQL, ingest, health), settings and the JSON
//!   response format.
#![deny(missing_docs)]

pub mod http;
pub mod sql;

pub use http::{ApiConfig, ApiState, router, serve};
pub use sql::{HistorySources, QueryError, QueryResult, SqlEngine};
