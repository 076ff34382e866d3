//! The query error type: one variant per category, each mapped to an HTTP status by
//! the HTTP layer.

use std::time::Duration;

use thiserror::Error;
use tributary_engine::Epoch;

/// Why a query was not answered.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The SQL does not parse or does not plan (unknown table or column, type error).
    #[error("{0}")]
    InvalidSql(String),
    /// A positional parameter is missing, of the wrong kind or does not fit its placeholder.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// The statement would write or read outside the live catalog (DDL, DML, COPY, files, ...).
    #[error("statement not allowed: {0}; the SQL API is read-only (SELECT, EXPLAIN, SHOW, DESCRIBE)")]
    Forbidden(String),
    /// The statement planned but failed while running (e.g. a cast that fails on a value).
    #[error("query failed: {0}")]
    Execution(String),
    /// The query ran longer than the per-query timeout and was cancelled.
    #[error("query cancelled after the timeout of {}ms; narrow it (filters, LIMIT) or raise sql_timeout_ms", timeout.as_millis())]
    Timeout {
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// The query needed more memory than the per-query limit (nothing spills to disk).
    #[error("query exceeded the memory limit of {limit_bytes} bytes and was cancelled: {reason}")]
    MemoryLimit {
        /// The limit.
        limit_bytes: usize,
        /// DataFusion's message (which operator asked for how much).
        reason: String,
    },
    /// The projections did not reach the requested ticket within the wait bound.
    #[error(
        "the projections did not reach min_ticket {ticket} within {}ms (they are at as_of {reached}); retry later",
        waited.as_millis()
    )]
    TicketNotReached {
        /// The ticket asked for.
        ticket: Epoch,
        /// The frontier reached when the wait ran out.
        reached: Epoch,
        /// How long the query waited.
        waited: Duration,
    },
    /// A live projection could not be read.
    #[error("cannot read live projection: {0}")]
    Snapshot(String),
}
