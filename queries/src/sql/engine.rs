//! The SQL engine: one DataFusion session per query over a consistent snapshot.
//!
//! Tables are registered per query, and only those the statement names: live projections
//! (default schema) are snapshotted under one pinned frontier, `system.*` tables are built
//! from the pipeline's counters and dead letters at the same moment. A key lookup on a
//! projection is answered without a session at all ([`super::fast_path`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemTable, MemorySchemaProvider};
use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use tributary_engine::{Epoch, LiveCatalog, RunningPipeline};

use super::fast_path::KeyLookup;
use super::guard::{check_statement, lacks_limit, read_only_options};
use super::history::{HISTORY_SCHEMA, HistorySources};
use super::provider::ProjectionProvider;
use super::system::{SYSTEM_SCHEMA, SystemSources};
use super::{QueryError, QueryLimits, QueryRequest, params};

/// The answer to one query.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// Result schema (present even when there are no rows).
    pub schema: SchemaRef,
    /// Result rows.
    pub batches: Vec<RecordBatch>,
    /// The frontier every live projection in the query was read at.
    pub as_of: Epoch,
    /// Whether rows were cut at the default row limit (the query had no `LIMIT` of its own).
    pub truncated: bool,
}

/// Answers SQL over the live projections of one pipeline.
#[derive(Debug, Clone)]
pub struct SqlEngine {
    catalog: Arc<LiveCatalog>,
    system: SystemSources,
    history: Option<HistorySources>,
    /// Whether key lookups skip DataFusion (see [`super::fast_path`]); on by default.
    fast_path: bool,
    /// Statements the fast path answered (shared by the engine's clones).
    fast_path_answers: Arc<AtomicU64>,
}

impl SqlEngine {
    /// An engine reading `catalog`; its `system` tables are empty.
    pub fn new(catalog: Arc<LiveCatalog>) -> Self {
        Self {
            catalog,
            system: SystemSources::default(),
            history: None,
            fast_path: true,
            fast_path_answers: Arc::default(),
        }
    }

    /// An engine reading the projections, counters and dead letters of `pipeline`.
    pub fn for_pipeline(pipeline: &RunningPipeline) -> Self {
        Self {
            catalog: pipeline.catalog(),
            system: SystemSources::for_pipeline(pipeline),
            history: None,
            fast_path: true,
            fast_path_answers: Arc::default(),
        }
    }

    /// The same engine with `system.audit` reading `audit`.
    pub fn with_audit(mut self, audit: Arc<crate::audit::AuditLog>) -> Self {
        self.system = self.system.with_audit(audit);
        self
    }

    /// Also answers `history.<stream>` from the history in `history` (see [`HistorySources`]).
    pub fn with_history(mut self, history: HistorySources) -> Self {
        self.history = Some(history);
        self
    }

    /// The same engine answering every statement with DataFusion, key lookups included: the
    /// oracle the fast path is tested against, and the baseline it is measured against.
    pub fn without_fast_path(mut self) -> Self {
        self.fast_path = false;
        self
    }

    /// How many statements the key-lookup fast path has answered.
    pub fn fast_path_answers(&self) -> u64 {
        self.fast_path_answers.load(Ordering::Relaxed)
    }

    /// The catalog queries read.
    pub fn catalog(&self) -> &Arc<LiveCatalog> {
        &self.catalog
    }

    /// Runs one read-only statement without parameters under the default limits.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult, QueryError> {
        self.run(&QueryRequest::sql(sql), &QueryLimits::default()).await
    }

    /// Runs one read-only statement: waits for its `min_ticket` (up to
    /// `limits.min_ticket_wait`), then plans and runs it within `limits`.
    pub async fn run(&self, request: &QueryRequest, limits: &QueryLimits) -> Result<QueryResult, QueryError> {
        if let Some(ticket) = request.min_ticket {
            self.wait_for_ticket(ticket, limits).await?;
        }
        match tokio::time::timeout(limits.timeout, self.plan_and_collect(request, limits)).await {
            Ok(result) => result,
            Err(_) => Err(QueryError::Timeout {
                timeout: limits.timeout,
            }),
        }
    }

    /// Waits until the committed frontier includes `ticket` (the first `as_of` that shows
    /// the records of the ingest that answered it).
    async fn wait_for_ticket(&self, ticket: Epoch, limits: &QueryLimits) -> Result<(), QueryError> {
        if self.catalog.as_of() >= ticket {
            return Ok(());
        }
        let catalog = self.catalog.clone();
        let wait = limits.min_ticket_wait;
        let started = Instant::now();
        // `wait_beyond` blocks on a condition variable: keep it off the async workers.
        let reached = tokio::task::spawn_blocking(move || catalog.wait_beyond(ticket.saturating_sub(1), wait))
            .await
            .map_err(|e| QueryError::Snapshot(format!("waiting for min_ticket failed: {e}")))?;
        if reached >= ticket {
            Ok(())
        } else {
            Err(QueryError::TicketNotReached {
                ticket,
                reached,
                waited: started.elapsed(),
            })
        }
    }

    async fn plan_and_collect(&self, request: &QueryRequest, limits: &QueryLimits) -> Result<QueryResult, QueryError> {
        let statement = parse_one(&request.sql)?;
        check_statement(&statement)?;
        if self.fast_path
            && let Some(answer) = self.try_fast_path(&statement, request, limits)
        {
            return Ok(answer);
        }
        let ctx = session(limits)?;
        let state = ctx.state();
        let cut_at = lacks_limit(&statement).then_some(limits.row_limit);
        let references = state.resolve_table_references(&statement).map_err(invalid)?;

        // The `system` schema always exists, so an unknown `system.x` is "table not found".
        if let Some(catalog) = ctx.catalog(DEFAULT_CATALOG) {
            catalog
                .register_schema(SYSTEM_SCHEMA, Arc::new(MemorySchemaProvider::new()))
                .map_err(|e| QueryError::Snapshot(e.to_string()))?;
        }

        // Freeze every live table the statement names under one pinned frontier: O(1) per
        // table, so the pin is short and nothing is read under it.
        let (as_of, frozen) = {
            let read = self.catalog.read();
            let mut frozen = Vec::new();
            for reference in &references {
                if is_in_schema(reference, DEFAULT_SCHEMA)
                    && let Some(table) = read.table(reference.table())
                    && !frozen.iter().any(|(name, _)| name == reference.table())
                {
                    frozen.push((reference.table().to_string(), table.freeze()));
                }
            }
            (read.as_of(), frozen)
        };
        // History files are immutable once committed, so they are listed after the pin.
        for reference in &references {
            if is_in_schema(reference, SYSTEM_SCHEMA) {
                self.register_system_table(&ctx, reference.table(), as_of)?;
            } else if let Some(history) = self
                .history
                .as_ref()
                .filter(|_| is_in_schema(reference, HISTORY_SCHEMA))
            {
                history.register(&ctx, reference.table())?;
            }
        }
        for (name, table) in frozen {
            ctx.register_table(name.as_str(), Arc::new(ProjectionProvider::new(table)))
                .map_err(|e| QueryError::Snapshot(e.to_string()))?;
        }

        let mut plan = state.statement_to_plan(statement).await.map_err(invalid)?;
        read_only_options()
            .verify_plan(&plan)
            .map_err(|e| QueryError::Forbidden(strip_error_prefix(&e)))?;
        if !request.params.is_empty() {
            plan = params::bind(plan, &request.params)?;
        }
        if let Some(rows) = cut_at {
            // One row more than the limit tells "cut" from "exactly at the limit".
            plan = LogicalPlanBuilder::from(plan)
                .limit(0, Some(rows.saturating_add(1)))
                .and_then(LogicalPlanBuilder::build)
                .map_err(invalid)?;
        }
        let frame = ctx.execute_logical_plan(plan).await.map_err(invalid)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|e| execution_error(&e, limits))?;
        let (batches, truncated) = match cut_at {
            Some(rows) => cut(batches, rows),
            None => (batches, false),
        };
        Ok(QueryResult {
            schema,
            batches,
            as_of,
            truncated,
        })
    }

    /// Answers a key lookup from its projection without DataFusion (see [`fast_path`]);
    /// `None` sends the statement the normal way.
    ///
    /// [`fast_path`]: super::fast_path
    fn try_fast_path(
        &self,
        statement: &DfStatement,
        request: &QueryRequest,
        limits: &QueryLimits,
    ) -> Option<QueryResult> {
        let lookup = KeyLookup::parse(statement)?;
        let (as_of, frozen) = {
            let read = self.catalog.read();
            (read.as_of(), read.table(&lookup.table)?.freeze())
        };
        let answer = lookup.answer(frozen.as_ref(), &request.params, limits.row_limit)?;
        self.fast_path_answers.fetch_add(1, Ordering::Relaxed);
        Some(QueryResult {
            schema: answer.schema,
            // DataFusion answers an empty lookup with no batch at all; so does the fast path.
            batches: if answer.batch.num_rows() == 0 {
                Vec::new()
            } else {
                vec![answer.batch]
            },
            as_of,
            truncated: answer.truncated,
        })
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

/// Parses exactly one statement, as DataFusion's session would (generic dialect, default
/// recursion limit), before any session exists: the fast path needs none.
fn parse_one(sql: &str) -> Result<DfStatement, QueryError> {
    let mut statements = DFParserBuilder::new(sql)
        .build()
        .and_then(|mut parser| parser.parse_statements())
        .map_err(invalid)?;
    if statements.len() > 1 {
        return Err(QueryError::InvalidSql(
            "only one SQL statement per request is supported".to_string(),
        ));
    }
    statements
        .pop_front()
        .ok_or_else(|| QueryError::InvalidSql("no SQL statement was provided".to_string()))
}

/// DataFusion's default catalog and schema, where live projections are registered.
const DEFAULT_CATALOG: &str = "datafusion";
const DEFAULT_SCHEMA: &str = "public";

/// Whether `reference` names a table of `schema` in the default catalog (an unqualified
/// name is in the default schema).
fn is_in_schema(reference: &TableReference, schema: &str) -> bool {
    reference.catalog().is_none_or(|c| c == DEFAULT_CATALOG) && reference.schema().unwrap_or(DEFAULT_SCHEMA) == schema
}

/// A session for one query: its own memory pool of `limits.memory_limit_bytes` and no disk
/// manager, so an operator that runs out of memory fails instead of spilling.
fn session(limits: &QueryLimits) -> Result<SessionContext, QueryError> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(limits.memory_limit_bytes, 1.0)
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled))
        .build_arc()
        .map_err(|e| QueryError::Snapshot(e.strip_backtrace()))?;
    let config = SessionConfig::new().with_information_schema(true);
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// Keeps the first `limit` rows; says whether any were dropped.
fn cut(batches: Vec<RecordBatch>, limit: usize) -> (Vec<RecordBatch>, bool) {
    let mut kept = Vec::with_capacity(batches.len());
    let mut left = limit;
    let mut truncated = false;
    for batch in batches {
        if batch.num_rows() <= left {
            left -= batch.num_rows();
            kept.push(batch);
        } else {
            truncated = true;
            if left > 0 {
                kept.push(batch.slice(0, left));
                left = 0;
            }
        }
    }
    (kept, truncated)
}

/// A failure while running: out of memory (the pool said no) or anything else.
fn execution_error(e: &DataFusionError, limits: &QueryLimits) -> QueryError {
    match e.find_root() {
        DataFusionError::ResourcesExhausted(reason) => QueryError::MemoryLimit {
            limit_bytes: limits.memory_limit_bytes,
            reason: reason.clone(),
        },
        _ => QueryError::Execution(strip_error_prefix(e)),
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
