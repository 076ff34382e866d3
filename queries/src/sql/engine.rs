//! The SQL engine: one DataFusion session per query over a consistent snapshot.
//!
//! Tables are registered per query, and only those the statement names: live projections
//! (default schema) are snapshotted under one pinned frontier, `system.*` tables are built
//! from the pipeline's counters and dead letters at the same moment.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemTable, MemorySchemaProvider};
use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use tributary_engine::{Epoch, LiveCatalog, RunningPipeline};

use super::QueryError;
use super::guard::{check_statement, read_only_options};
use super::history::{HISTORY_SCHEMA, HistorySources};
use super::system::{SYSTEM_SCHEMA, SystemSources};

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
    system: SystemSources,
    history: Option<HistorySources>,
}

impl SqlEngine {
    /// An engine reading `catalog`; its `system` tables are empty.
    pub fn new(catalog: Arc<LiveCatalog>) -> Self {
        Self {
            catalog,
            system: SystemSources::default(),
            history: None,
        }
    }

    /// An engine reading the projections, counters and dead letters of `pipeline`.
    pub fn for_pipeline(pipeline: &RunningPipeline) -> Self {
        Self {
            catalog: pipeline.catalog(),
            system: SystemSources::for_pipeline(pipeline),
            history: None,
        }
    }

    /// Also answers `history.<stream>` from the history in `history` (see [`HistorySources`]).
    pub fn with_history(mut self, history: HistorySources) -> Self {
        self.history = Some(history);
        self
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

        // The `system` schema always exists, so an unknown `system.x` is "table not found".
        if let Some(catalog) = ctx.catalog(DEFAULT_CATALOG) {
            catalog
                .register_schema(SYSTEM_SCHEMA, Arc::new(MemorySchemaProvider::new()))
                .map_err(|e| QueryError::Snapshot(e.to_string()))?;
        }

        // Snapshot every live table the statement names under one pinned frontier.
        let as_of = {
            let read = self.catalog.read();
            for reference in &references {
                if let Some(history) = self
                    .history
                    .as_ref()
                    .filter(|_| is_in_schema(reference, HISTORY_SCHEMA))
                {
                    history.register(&ctx, reference.table())?;
                    continue;
                }
                if is_in_schema(reference, SYSTEM_SCHEMA) {
                    self.register_system_table(&ctx, reference.table(), read.as_of())?;
                    continue;
                }
                if !is_in_schema(reference, DEFAULT_SCHEMA) {
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

    /// Registers `system.<name>` if there is such a table and it is not registered yet.
    fn register_system_table(&self, ctx: &SessionContext, name: &str, as_of: Epoch) -> Result<(), QueryError> {
        let reference = TableReference::partial(SYSTEM_SCHEMA, name);
        if ctx.table_exist(reference.clone()).unwrap_or(false) {
            return Ok(());
        }
        let Some(batch) = self.system.table(name, as_of, &self.catalog.table_names()) else {
            return Ok(());
        };
        let batch = batch.map_err(|e| QueryError::Snapshot(e.to_string()))?;
        let mem =
            MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(|e| QueryError::Snapshot(e.to_string()))?;
        ctx.register_table(reference, Arc::new(mem))
            .map_err(|e| QueryError::Snapshot(e.to_string()))?;
        Ok(())
    }
}

/// DataFusion's default catalog and schema, where live projections are registered.
const DEFAULT_CATALOG: &str = "datafusion";
const DEFAULT_SCHEMA: &str = "public";

/// Whether `reference` names a table of `schema` in the default catalog (an unqualified
/// name is in the default schema).
fn is_in_schema(reference: &TableReference, schema: &str) -> bool {
    reference.catalog().is_none_or(|c| c == DEFAULT_CATALOG) && reference.schema().unwrap_or(DEFAULT_SCHEMA) == schema
}

fn invalid(e: DataFusionError) -> QueryError {
    QueryError::InvalidSql(strip_error_prefix(&e))
}

/// DataFusion's messages carry a category prefix and sometimes a backtrace hint; keep the
/// message itself.
fn strip_error_prefix(e: &DataFusionError) -> String {
    e.strip_backtrace()
}
