//! # Tributary queries
//!
//! The read side of Tributary — SQL over live projections and the pipeline's own state —
//! and the HTTP front door of its streams, served over HTTP.
//!
//! ```text
//!  POST /v1/sql {"sql", "params", "min_ticket"}    POST /v1/ingest/{stream} (object, array, NDJSON)
//!        │                                                │ body limit (413), unknown stream (404)
//!        ▼                                                ▼
//!  http::router ──> sql::SqlEngine::run             engine IngestRegistry::endpoint(stream)
//!    0. Accept → format (406); wait for min_ticket    split + decode; bad lines ──> DLQ
//!    1. parse (DataFusion's parser); refuse           good lines ──> workers (busy/closed: 503)
//!       anything but a read, files, URLs (403)        │
//!    2. resolve the tables the statement names        ▼
//!    3. pin the LiveCatalog at one frontier and    {"accepted", "rejected", "errors": [{line, reason}],
//!       freeze those tables (O(1) each); build the    "ticket"}   ── ticket: first as_of showing them
//!       named system.* tables
//!    4. plan + verify read-only + bind params + cap rows; execute with a timeout and a
//!       memory pool (ProjectionProvider: key filters → lookups, else batched scans)
//!        ▼
//!  JSON {"columns", "rows", "as_of", "truncated"} | NDJSON | CSV | Arrow IPC stream
//! ```
//!
//! Every projection a statement reads is snapshotted under one
//! [`CatalogRead`](tributary_engine::CatalogRead), so a join of two projections never mixes
//! two frontiers, and the response's `as_of` names the frontier it saw. An ingest answers
//! with a ticket: a query whose `as_of` is at least the ticket sees the accepted records
//! (read-your-writes).
//!
//! * [`sql`] — the SQL engine, its guard, the `system` tables and its errors;
//! * [`http`] — the axum router, handlers (SQL, ingest, subscribe over SSE/WebSocket,
//!   health, readiness, metrics), access control (JWT auth, scopes, rate limit), settings and the JSON response format;
//! * [`audit`] — the audit log of ingest and admin calls (`system.audit`);
//! * [`metrics`] — the Prometheus metrics `/metrics` renders.
#![deny(missing_docs)]

pub mod audit;
pub mod http;
pub mod metrics;
pub mod sql;

pub use http::{ApiConfig, ApiState, SubscribeConfig, router, serve};
pub use sql::{HistorySources, QueryError, QueryLimits, QueryRequest, QueryResult, SqlEngine};
