//! [`ProjectionProvider`]: a frozen projection as a DataFusion table.
//!
//! Filters `col = v` / `col IN (…)` (or `col = a OR col = b`) on the projection's key columns are pushed down as
//! `Inexact`: when every key column is constrained the scan looks the keys up in the frozen
//! map (O(k log n), no scan), and DataFusion still applies every filter to the rows found,
//! so a literal that does not decode into the key type (then the scan reads everything) or
//! a second filter on the same column stays correct. Any other query scans the map in key
//! order, converting one batch of rows to Arrow at a time.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use tributary_engine::FrozenTable;

use super::key_filter::{key_values, lookup_keys};

/// A projection frozen at the query's frontier, served to DataFusion.
#[derive(Debug)]
pub struct ProjectionProvider {
    frozen: Arc<dyn FrozenTable>,
}

impl ProjectionProvider {
    /// Serves `frozen`.
    pub fn new(frozen: Arc<dyn FrozenTable>) -> Self {
        Self { frozen }
    }
}

#[async_trait]
impl TableProvider for ProjectionProvider {
    fn schema(&self) -> SchemaRef {
        self.frozen.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>, DataFusionError> {
        let keys = self.frozen.key_columns();
        Ok(filters
            .iter()
            .map(|f| {
                if key_values(f, keys).is_some() {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        if let Some(keys) = lookup_keys(filters, self.frozen.key_columns()) {
            match self.frozen.lookup(&keys) {
                Ok(batch) => {
                    let exec = MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())?;
                    return Ok(exec);
                }
                Err(e) => tracing::debug!(table = self.frozen.name(), error = %e, "key lookup not possible; scanning"),
            }
        }
        let partition = FrozenPartition {
            frozen: self.frozen.clone(),
            schema: self.schema(),
            batch_rows: state.config().batch_size(),
            limit,
        };
        let exec = StreamingTableExec::try_new(self.schema(), vec![Arc::new(partition)], projection, [], false, limit)?;
        Ok(Arc::new(exec))
    }
}

/// The whole frozen table as one stream of batches.
#[derive(Debug)]
struct FrozenPartition {
    frozen: Arc<dyn FrozenTable>,
    schema: SchemaRef,
    batch_rows: usize,
    limit: Option<usize>,
}

impl PartitionStream for FrozenPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batches = self
            .frozen
            .clone()
            .batches(self.batch_rows, self.limit)
            .map(|b| b.map_err(|e| DataFusionError::External(Box::new(e))));
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(batches),
        ))
    }
}
