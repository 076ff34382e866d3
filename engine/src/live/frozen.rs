//! An immutable, O(1) snapshot of one projection: what a query reads without holding a lock.
//!
//! [`LiveTable::freeze`](super::LiveTable::freeze) clones the table's persistent map (a
//! reference count, not the rows). The snapshot is read two ways: in key order, in Arrow
//! batches of bounded size ([`FrozenTable::batches`]), or by key ([`FrozenTable::lookup`]).
//!
//! Keys from SQL: a lookup names keys as JSON values, decoded into the table's key type `K`
//! with serde. A key of one column is that column's value (`42`, `"abc"`); a key of several
//! columns is an array of their values in key-column order (`[42, "abc"]`), which is how
//! serde reads tuples and tuple structs. A value that does not decode into `K` is an error,
//! so the caller can fall back to a scan rather than answer "no such row".

use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use arrow::datatypes::{FieldRef, SchemaRef};
use arrow::record_batch::RecordBatch;
use imbl::OrdMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::table::expand;
use crate::EngineError;

/// A projection's rows frozen at one frontier.
pub trait FrozenTable: fmt::Debug + Send + Sync + 'static {
    /// The projection's name.
    fn name(&self) -> &str;
    /// The Arrow schema of its rows.
    fn schema(&self) -> SchemaRef;
    /// The columns whose values make the key, in key order (empty: not declared).
    fn key_columns(&self) -> &[String];
    /// Number of rows (counting multiplicities).
    fn row_count(&self) -> usize;
    /// Every row in key order, in batches of at most `batch_rows` rows, stopping after
    /// `limit` rows if given. Rows are converted to Arrow lazily, one batch per step.
    fn batches(self: Arc<Self>, batch_rows: usize, limit: Option<usize>) -> FrozenBatches;
    /// The rows stored under each of `keys` (JSON values, see the module docs), in the order
    /// of `keys`; a key with no row contributes nothing.
    fn lookup(&self, keys: &[serde_json::Value]) -> Result<RecordBatch, EngineError>;
}

/// The batches of a frozen table, in key order.
pub type FrozenBatches = Box<dyn Iterator<Item = Result<RecordBatch, EngineError>> + Send>;

/// The typed snapshot behind [`FrozenTable`].
pub(super) struct FrozenRows<K, P> {
    pub(super) name: String,
    pub(super) schema: SchemaRef,
    pub(super) fields: Arc<[FieldRef]>,
    pub(super) key_columns: Arc<[String]>,
    pub(super) rows: OrdMap<K, Vec<(P, i64)>>,
    pub(super) count: usize,
}

impl<K, P> fmt::Debug for FrozenRows<K, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrozenRows")
            .field("name", &self.name)
            .field("key_columns", &self.key_columns)
            .field("count", &self.count)
            .finish()
    }
}

impl<K, P> FrozenRows<K, P>
where
    P: Serialize,
{
    fn to_batch(&self, rows: &[P]) -> Result<RecordBatch, EngineError> {
        serde_arrow::to_record_batch(&self.fields, &rows).map_err(|e| EngineError::ArrowConversion {
            projection: self.name.clone(),
            reason: e.to_string(),
        })
    }
}

impl<K, P> FrozenTable for FrozenRows<K, P>
where
    K: Ord + Clone + DeserializeOwned + Send + Sync + 'static,
    P: Serialize + Clone + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn key_columns(&self) -> &[String] {
        &self.key_columns
    }

    fn row_count(&self) -> usize {
        self.count
    }

    fn batches(self: Arc<Self>, batch_rows: usize, limit: Option<usize>) -> FrozenBatches {
        Box::new(BatchIter {
            frozen: self,
            after: None,
            done: false,
            batch_rows: batch_rows.max(1),
            remaining: limit,
        })
    }

    fn lookup(&self, keys: &[serde_json::Value]) -> Result<RecordBatch, EngineError> {
        let mut rows = Vec::new();
        for value in keys {
            let key: K = serde_json::from_value(value.clone()).map_err(|e| EngineError::KeyDecode {
                projection: self.name.clone(),
                key: value.to_string(),
                reason: e.to_string(),
            })?;
            if let Some(stored) = self.rows.get(&key) {
                rows.extend(expand(stored));
            }
        }
        self.to_batch(&rows)
    }
}

/// Walks a frozen map in key order, resuming after the last key of the previous batch
/// (an O(log n) seek per batch, so the iterator owns no borrow of the map). A batch holds
/// whole keys: it may exceed `batch_rows` by the rest of its last key's rows, since the next
/// batch resumes *after* that key. Only the row limit cuts a key short, and then nothing
/// follows.
struct BatchIter<K, P> {
    frozen: Arc<FrozenRows<K, P>>,
    after: Option<K>,
    done: bool,
    batch_rows: usize,
    remaining: Option<usize>,
}

impl<K, P> Iterator for BatchIter<K, P>
where
    K: Ord + Clone,
    P: Serialize + Clone,
{
    type Item = Result<RecordBatch, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.remaining == Some(0) {
            return None;
        }
        let want = self.remaining.map_or(self.batch_rows, |r| r.min(self.batch_rows));
        let lower: Bound<&K> = self.after.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut rows: Vec<P> = Vec::with_capacity(want);
        let mut last = None;
        for (key, stored) in self.frozen.rows.range::<_, K>((lower, Bound::Unbounded)) {
            if rows.len() >= want {
                break;
            }
            rows.extend(expand(stored));
            last = Some(key.clone());
        }
        if last.is_none() {
            self.done = true;
            return None;
        }
        if let Some(remaining) = &mut self.remaining {
            rows.truncate(*remaining);
            *remaining -= rows.len();
        }
        self.after = last;
        Some(self.frozen.to_batch(&rows))
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field, Schema};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Row {
        a: i64,
        b: String,
    }

    fn frozen(n: i64) -> Arc<FrozenRows<(i64, String), Row>> {
        let fields: Vec<FieldRef> = vec![
            Arc::new(Field::new("a", DataType::Int64, false)),
            Arc::new(Field::new("b", DataType::Utf8, false)),
        ];
        let mut rows = OrdMap::new();
        for a in 0..n {
            let row = Row { a, b: format!("k{a}") };
            rows.insert((a, row.b.clone()), vec![(row, 1)]);
        }
        Arc::new(FrozenRows {
            name: "t".into(),
            schema: Arc::new(Schema::new(fields.clone())),
            fields: fields.into(),
            key_columns: vec!["a".to_string(), "b".to_string()].into(),
            rows,
            count: usize::try_from(n).unwrap_or(0),
        })
    }

    #[test]
    fn batches_cover_every_row_once_in_key_order_and_honour_the_limit() -> Result<(), EngineError> {
        let sizes: Vec<usize> = frozen(10)
            .batches(4, None)
            .map(|b| b.map(|b| b.num_rows()))
            .collect::<Result<_, _>>()?;
        assert_eq!(sizes, [4, 4, 2]);
        let limited: Vec<usize> = frozen(10)
            .batches(4, Some(5))
            .map(|b| b.map(|b| b.num_rows()))
            .collect::<Result<_, _>>()?;
        assert_eq!(limited, [4, 1]);
        assert_eq!(frozen(0).batches(4, None).count(), 0);
        Ok(())
    }

    #[test]
    fn a_key_whose_rows_cross_a_batch_boundary_keeps_all_of_them() -> Result<(), EngineError> {
        // Three keys with 1, 5 and 2 rows, read 3 rows at a time: the second batch would end
        // inside key 1 if batches were cut at exactly 3 rows.
        let fields: Vec<FieldRef> = vec![Arc::new(Field::new("a", DataType::Int64, false))];
        #[derive(Debug, Clone, PartialEq, Serialize)]
        struct One {
            a: i64,
        }
        let mut rows = OrdMap::new();
        rows.insert(0i64, vec![(One { a: 0 }, 1)]);
        rows.insert(1, (10..15).map(|a| (One { a }, 1)).collect());
        rows.insert(2, vec![(One { a: 20 }, 2)]);
        let t = Arc::new(FrozenRows {
            name: "t".into(),
            schema: Arc::new(Schema::new(fields.clone())),
            fields: fields.into(),
            key_columns: vec!["a".to_string()].into(),
            rows,
            count: 8,
        });
        let read = |limit| -> Result<Vec<usize>, EngineError> {
            t.clone().batches(3, limit).map(|b| b.map(|b| b.num_rows())).collect()
        };
        assert_eq!(read(None)?, [6, 2], "whole keys per batch, every row once");
        assert_eq!(read(Some(4))?, [4], "the limit cuts inside a key, and nothing follows");
        assert_eq!(read(Some(8))?, [6, 2]);
        Ok(())
    }

    #[test]
    fn lookup_decodes_a_two_column_key_from_a_json_array() -> Result<(), EngineError> {
        let t = frozen(10);
        let batch = t.lookup(&[
            serde_json::json!([3, "k3"]),
            serde_json::json!([4, "nope"]),
            serde_json::json!([7, "k7"]),
        ])?;
        assert_eq!(batch.num_rows(), 2);
        assert!(matches!(
            t.lookup(&[serde_json::json!("k3")]),
            Err(EngineError::KeyDecode { .. })
        ));
        Ok(())
    }
}
