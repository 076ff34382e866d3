//! `history.<stream>`: SQL over a stream's committed history files.
//!
//! The table lists exactly the files the manifest names — never a directory listing, so a
//! `.tmp` left by a crash or an orphan file whose manifest entry was never written stays
//! invisible. Its columns are the record's fields, `_epoch`, `_event_time`, and the
//! partition columns `date` (`YYYY-MM-DD`) and `hour` (0–23). Filters on `date` and `hour`
//! prune files before the scan, and so do filters on `_event_time` against each file's
//! min/max from the manifest; `EXPLAIN` shows the files left.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{MemorySchemaProvider, Session, TableProvider};
use datafusion::common::{ScalarValue, TableReference};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::SessionContext;
use tributary_engine::history::manifest::{FileEntry, MANIFEST_FILE, read_manifest};

use super::QueryError;

/// The SQL schema history tables live in.
pub const HISTORY_SCHEMA: &str = "history";
const DATE: &str = "date";
const HOUR: &str = "hour";
const EVENT_TIME: &str = tributary_engine::history::EVENT_TIME_COLUMN;

/// Where `history.*` tables come from: a history directory with its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySources {
    dir: PathBuf,
}

impl HistorySources {
    /// History in `dir` (a data directory's `history/`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The table of `stream` as the manifest says now, or `None` if it has no files.
    pub fn table(&self, stream: &str) -> Result<Option<HistoryTable>> {
        let files: Vec<FileEntry> = read_manifest(&self.dir.join(MANIFEST_FILE))
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .into_iter()
            .filter(|f| f.stream == stream)
            .collect();
        let Some(first) = files.first() else {
            return Ok(None);
        };
        let file_schema = read_schema(&self.dir.join(&first.file))?;
        Ok(Some(HistoryTable {
            dir: self.dir.clone(),
            file_schema,
            files,
        }))
    }
}

impl HistorySources {
    /// Registers `history.<stream>` in `ctx` (creating the `history` schema) if the stream
    /// has history; an unknown stream is then "table not found".
    pub(super) fn register(&self, ctx: &SessionContext, stream: &str) -> Result<(), QueryError> {
        let failed = |e: DataFusionError| QueryError::Snapshot(e.strip_backtrace());
        if let Some(catalog) = ctx.catalog("datafusion")
            && catalog.schema(HISTORY_SCHEMA).is_none()
        {
            catalog
                .register_schema(HISTORY_SCHEMA, Arc::new(MemorySchemaProvider::new()))
                .map_err(failed)?;
        }
        let reference = TableReference::partial(HISTORY_SCHEMA, stream);
        if ctx.table_exist(reference.clone()).unwrap_or(false) {
            return Ok(());
        }
        if let Some(table) = self.table(stream).map_err(failed)? {
            ctx.register_table(reference, Arc::new(table)).map_err(failed)?;
        }
        Ok(())
    }
}

fn read_schema(path: &Path) -> Result<SchemaRef> {
    let file = File::open(path).map_err(|e| DataFusionError::Execution(format!("{}: {e}", path.display())))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    Ok(Arc::new(Schema::new(builder.schema().fields().clone())))
}

fn partition_fields() -> Vec<Arc<Field>> {
    vec![
        Arc::new(Field::new(DATE, DataType::Utf8, false)),
        Arc::new(Field::new(HOUR, DataType::Int64, false)),
    ]
}

/// One stream's history as a DataFusion table over the manifest's files.
#[derive(Debug, Clone)]
pub struct HistoryTable {
    dir: PathBuf,
    file_schema: SchemaRef,
    files: Vec<FileEntry>,
}

#[async_trait]
impl TableProvider for HistoryTable {
    fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Arc<Field>> = self.file_schema.fields().iter().cloned().collect();
        fields.extend(partition_fields());
        Arc::new(Schema::new(fields))
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // Used to prune files; DataFusion still applies every filter to the rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files: Vec<PartitionedFile> = self
            .files
            .iter()
            .filter(|f| filters.iter().all(|expr| may_match(expr, f) != Some(false)))
            .map(|f| {
                let path = self.dir.join(&f.file);
                PartitionedFile::new(path.to_string_lossy(), f.bytes).with_partition_values(vec![
                    ScalarValue::Utf8(Some(f.date.clone())),
                    ScalarValue::Int64(Some(i64::from(f.hour))),
                ])
            })
            .collect();
        if files.is_empty() {
            let schema = self.schema();
            let projected = match projection {
                Some(p) => Arc::new(schema.project(p)?),
                None => schema,
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let source = ParquetSource::new(
            TableSchema::builder(self.file_schema.clone())
                .with_table_partition_cols(partition_fields())
                .build(),
        );
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
            .with_file_group(FileGroup::new(files))
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Whether `file` may hold rows matching `expr`: `Some(false)` only when it cannot.
fn may_match(expr: &Expr, file: &FileEntry) -> Option<bool> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => match (may_match(left, file), may_match(right, file)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Operator::Or => match (may_match(left, file), may_match(right, file)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            _ => match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), Expr::Literal(v, _)) => compare(&c.name, *op, v, file),
                (Expr::Literal(v, _), Expr::Column(c)) => compare(&c.name, op.swap()?, v, file),
                _ => None,
            },
        },
        Expr::InList(list) if !list.negated => {
            let Expr::Column(c) = list.expr.as_ref() else {
                return None;
            };
            let mut any = Some(false);
            for item in &list.list {
                let Expr::Literal(v, _) = item else {
                    return None;
                };
                match compare(&c.name, Operator::Eq, v, file) {
                    Some(true) => return Some(true),
                    None => any = None,
                    Some(false) => {}
                }
            }
            any
        }
        _ => None,
    }
}

/// `column op value` for a file: exact for the partition columns, by range for event time.
fn compare(column: &str, op: Operator, value: &ScalarValue, file: &FileEntry) -> Option<bool> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let exact = |own: ScalarValue| {
        let ord = own.partial_cmp(value)?;
        match op {
            Operator::Eq => Some(ord == Equal),
            Operator::NotEq => Some(ord != Equal),
            Operator::Lt => Some(ord == Less),
            Operator::LtEq => Some(ord != Greater),
            Operator::Gt => Some(ord == Greater),
            Operator::GtEq => Some(ord != Less),
            _ => None,
        }
    };
    match column {
        DATE => exact(ScalarValue::Utf8(Some(file.date.clone()))),
        HOUR => exact(ScalarValue::Int64(Some(i64::from(file.hour)))),
        EVENT_TIME => {
            let ScalarValue::TimestampMillisecond(Some(v), _) = value else {
                return None;
            };
            let (lo, hi) = (file.min_event_time, file.max_event_time);
            match op {
                Operator::Eq => Some(lo <= *v && *v <= hi),
                Operator::Lt => Some(lo < *v),
                Operator::LtEq => Some(lo <= *v),
                Operator::Gt => Some(hi > *v),
                Operator::GtEq => Some(hi >= *v),
                _ => None,
            }
        }
        _ => None,
    }
}
