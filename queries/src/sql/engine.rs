//! The SQL engine: one DataFusion session per query over a consistent snapshot.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use tributary_engine::{Epoch, LiveCatalog};

use super::QueryError;
use super::guard::{check_statement, read_only_options};

/// The answer to one query.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// Result schema (present even when there are no rows).
    pub schema: SchemaRef,
    /// Result rows.
    pub batches: Vec<RecordBatch>,
    /// The frontier every live projection in the query was read at.
    pub as_of: Epoch,
}

/// Answers SQL over the live projections of one pipeline.
#[derive(Debug, Clone)]
pub struct SqlEngine {
    catalog: Arc<LiveCatalog>,
}

impl SqlEngine {
    /// An engine reading `catalog`.
    pub fn new(catalog: Arc<LiveCatalog>) -> Self {
        Self { catalog }
    }

    /// The catalog queries read.
    pub fn catalog(&self) -> &Arc<LiveCatalog> {
        &self.catalog
    }

    /// Runs one read-only statement.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult, QueryError> {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
        let state = ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect).map_err(invalid)?;
        check_statement(&statement)?;
        let references = state.resolve_table_references(&statement).map_err(invalid)?;

        // Snapshot every live table the statement names under one pinned frontier.
        let as_of = {
            let read = self.catalog.read();
            for reference in &references {
                let is_default_schema = reference.schema().is_none_or(|s| s == "public");
                if !is_default_schema {
                    continue;
                }
                let Some(table) = read.table(reference.table()) else {
                    continue;
                };
                if ctx.table_exist(reference.table()).unwrap_or(false) {
                    continue;
                }
                let batch = table.snapshot().map_err(|e| QueryError::Snapshot(e.to_string()))?;
                let mem = MemTable::try_new(table.schema(), vec![vec![batch]])
                    .map_err(|e| QueryError::Snapshot(e.to_string()))?;
                ctx.register_table(reference.table(), Arc::new(mem))
                    .map_err(|e| QueryError::Snapshot(e.to_string()))?;
            }
            read.as_of()
        };

        let plan = state.statement_to_plan(statement).await.map_err(invalid)?;
        read_only_options()
            .verify_plan(&plan)
            .map_err(|e| QueryError::Forbidden(strip_error_prefix(&e)))?;
        let frame = ctx.execute_logical_plan(plan).await.map_err(invalid)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame
            .collect()
            .await
            .map_err(|e| QueryError::Execution(strip_error_prefix(&e)))?;
        Ok(QueryResult { schema, batches, as_of })
    }
}

fn invalid(e: DataFusionError) -> QueryError {
    QueryError::InvalidSql(strip_error_prefix(&e))
}

/// DataFusion's messages carry a category prefix and sometimes a backtrace hint; keep the
/// message itself.
fn strip_error_prefix(e: &DataFusionError) -> String {
    e.strip_backtrace()
}
