//! What one query asks for and the bounds it runs under.

use std::time::Duration;

use serde_json::Value;
use tributary_engine::Epoch;

/// One statement with its parameters and its read-your-writes ticket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryRequest {
    /// One SQL statement; `$1`, `$2`, … refer to `params`.
    pub sql: String,
    /// Positional parameters as JSON scalars (`null`, booleans, numbers, strings).
    pub params: Vec<Value>,
    /// Wait until every projection includes this ingest ticket before reading.
    pub min_ticket: Option<Epoch>,
}

impl QueryRequest {
    /// A statement without parameters or ticket.
    pub fn sql(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            ..Self::default()
        }
    }
}

/// The bounds every query runs under (built from the API settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    /// Rows answered at most by a query without its own `LIMIT`; more are cut and the
    /// result says so ([`QueryResult::truncated`](super::QueryResult::truncated)).
    pub row_limit: usize,
    /// Longest a query may plan and run.
    pub timeout: Duration,
    /// Memory the query's operators may reserve (sorts, joins, aggregations), in bytes;
    /// nothing spills to disk.
    pub memory_limit_bytes: usize,
    /// Longest a query waits for its `min_ticket`.
    pub min_ticket_wait: Duration,
}

impl Default for QueryLimits {
    /// 10,000 rows, 30 s, 256 MiB, 10 s: the [`ApiConfig`](crate::ApiConfig) defaults.
    fn default() -> Self {
        Self {
            row_limit: 10_000,
            timeout: Duration::from_secs(30),
            memory_limit_bytes: 256 << 20,
            min_ticket_wait: Duration::from_secs(10),
        }
    }
}
