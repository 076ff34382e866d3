//! The query error type: one variant per category, each mapped to an HTTP status by
//! the HTTP layer.

use thiserror::Error;

/// Why a query was not answered.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The SQL does not parse or does not plan (unknown table or column, type error).
    #[error("{0}")]
    InvalidSql(String),
    /// The statement would write or read outside the live catalog (DDL, DML, COPY, ...).
    #[error("statement not allowed: {0}; the SQL API is read-only (SELECT, EXPLAIN, SHOW, DESCRIBE)")]
    Forbidden(String),
    /// The statement planned but failed while running (e.g. a cast that fails on a value).
    #[error("query failed: {0}")]
    Execution(String),
    /// A live projection could not be read.
    #[error("cannot read live projection: {0}")]
    Snapshot(String),
}
