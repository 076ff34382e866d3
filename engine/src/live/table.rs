//! A projection's current rows, grouped by key, plus the updates waiting for the frontier.
//!
//! The rows live in a persistent ordered map ([`imbl::OrdMap`]): applying an epoch's updates
//! copies only the tree nodes on the paths it changes, so a reader can take the whole table
//! in O(1) ([`LiveTable::freeze`]) under the catalog's read lock and then read it for as long
//! as it likes without holding any lock, while later epochs are applied beside it.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use arrow::datatypes::{FieldRef, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use imbl::OrdMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::CatalogRead;
use super::changes::{ChangeFeed, Subscription, consolidate_into, encode_changes};
use super::frozen::{FrozenRows, FrozenTable};
use crate::EngineError;
use crate::time::Epoch;

/// The type-erased view of a projection the catalog and the query layer use.
pub trait LiveTable: Send + Sync + 'static {
    /// The projection's name (its SQL table name).
    fn name(&self) -> &str;
    /// The Arrow schema of its rows.
    fn schema(&self) -> SchemaRef;
    /// Applies pending updates with epochs `< frontier`. Called by the catalog only, under its
    /// write lock.
    fn apply_until(&self, frontier: Epoch);
    /// The current rows as one Arrow batch. Consistent with other tables only while the
    /// caller holds a [`CatalogRead`](super::CatalogRead).
    fn snapshot(&self) -> Result<RecordBatch, EngineError>;
    /// The current rows as an immutable snapshot, in O(1). Consistent with other tables
    /// frozen under the same [`CatalogRead`](super::CatalogRead); readable after it is gone.
    fn freeze(&self) -> Arc<dyn FrozenTable>;
    /// The columns whose values make the key, in key order (empty: not declared).
    fn key_columns(&self) -> &[String];
    /// Number of current rows (counting multiplicities).
    fn row_count(&self) -> usize;
    /// Updates whose accumulated multiplicity went negative — always 0 unless an operator is
    /// wrong; exposed so tests and metrics can say so.
    fn anomalies(&self) -> u64;
    /// The current rows and a queue of the changes of every later frontier (see
    /// [`changes`](super::changes)). Taking `pinned` proves the caller holds the catalog's
    /// frontier, so no update is applied between the snapshot and the registration.
    fn subscribe(&self, pinned: &CatalogRead<'_>, capacity: usize) -> Result<(RecordBatch, Subscription), EngineError>;
}

type Pending<K, P> = Vec<(K, P, Epoch, i64)>;

/// The rows of one projection of row type `P`, indexed by key `K`.
#[derive(Debug)]
pub struct ProjectionTable<K, P> {
    name: String,
    schema: SchemaRef,
    fields: Arc<[FieldRef]>,
    key_columns: Arc<[String]>,
    pending: Mutex<Pending<K, P>>,
    rows: RwLock<TableRows<K, P>>,
    feed: ChangeFeed,
}

struct TableRows<K, P> {
    by_key: OrdMap<K, Vec<(P, i64)>>,
    count: usize,
    anomalies: u64,
}

impl<K, P> std::fmt::Debug for TableRows<K, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableRows")
            .field("keys", &self.by_key.len())
            .field("count", &self.count)
            .field("anomalies", &self.anomalies)
            .finish()
    }
}

impl<K, P> ProjectionTable<K, P>
where
    K: Ord + Clone + DeserializeOwned + Send + Sync + 'static,
    P: Serialize + PartialEq + Clone + Send + Sync + 'static,
{
    /// An empty table with the given Arrow fields and no declared key columns.
    pub fn new(name: impl Into<String>, fields: Vec<FieldRef>) -> Self {
        Self::with_key_columns(name, fields, Vec::new())
    }

    /// An empty table whose key is made of the values of `key_columns`, in order (see
    /// [`ProjectionSpec::with_key_columns`](crate::ProjectionSpec::with_key_columns)).
    pub fn with_key_columns(name: impl Into<String>, fields: Vec<FieldRef>, key_columns: Vec<String>) -> Self {
        Self {
            name: name.into(),
            schema: Arc::new(Schema::new(fields.clone())),
            fields: fields.into(),
            key_columns: key_columns.into(),
            pending: Mutex::new(Vec::new()),
            rows: RwLock::new(TableRows {
                by_key: OrdMap::new(),
                count: 0,
                anomalies: 0,
            }),
            feed: ChangeFeed::default(),
        }
    }

    /// Queues updates that are complete on the calling worker.
    pub(crate) fn stage(&self, updates: impl IntoIterator<Item = (K, P, Epoch, i64)>) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(updates);
    }

    /// The rows currently stored under `key` (consistent while a `CatalogRead` is held).
    pub fn get(&self, key: &K) -> Vec<P> {
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        rows.by_key.get(key).map_or_else(Vec::new, |rs| expand(rs))
    }

    /// All current rows in key order (consistent while a `CatalogRead` is held).
    pub fn rows(&self) -> Vec<P> {
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        rows.by_key.values().flat_map(|rs| expand(rs)).collect()
    }
}

/// Applies one key's updates to its rows; rows whose multiplicity reaches zero go, and a
/// negative multiplicity (an operator bug) is counted and dropped.
fn apply_group<P: PartialEq>(slot: &mut Vec<(P, i64)>, group: &mut Vec<(P, i64)>, anomalies: &mut u64) {
    for (row, diff) in group.drain(..) {
        match slot.iter_mut().find(|(p, _)| *p == row) {
            Some((_, n)) => *n += diff,
            None => slot.push((row, diff)),
        }
    }
    slot.retain(|(_, n)| {
        if *n < 0 {
            *anomalies += 1;
        }
        *n > 0
    });
}

pub(super) fn expand<P: Clone>(rows: &[(P, i64)]) -> Vec<P> {
    rows.iter()
        .flat_map(|(p, n)| std::iter::repeat_n(p.clone(), usize::try_from(*n).unwrap_or(0)))
        .collect()
}

impl<K, P> LiveTable for ProjectionTable<K, P>
where
    K: Ord + Clone + DeserializeOwned + Send + Sync + 'static,
    P: Serialize + PartialEq + Clone + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn apply_until(&self, frontier: Epoch) {
        let mut ready: Pending<K, P> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.iter().all(|(_, _, t, _)| *t < frontier) {
                std::mem::take(&mut *pending)
            } else {
                let (ready, later) = std::mem::take(&mut *pending)
                    .into_iter()
                    .partition(|(_, _, t, _)| *t < frontier);
                *pending = later;
                ready
            }
        };
        if ready.is_empty() {
            self.feed.commit(frontier, None);
            return;
        }
        let watched = self.feed.is_watched();
        let mut changes: Vec<(P, i64)> = Vec::new();
        // Group by key so each key is looked up once and a retract-then-insert of the same
        // key updates its entry in place instead of removing and re-inserting it.
        ready.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rows = self.rows.write().unwrap_or_else(PoisonError::into_inner);
        let TableRows {
            by_key,
            count,
            anomalies,
        } = &mut *rows;
        let mut updates = ready.into_iter().peekable();
        let mut group: Vec<(P, i64)> = Vec::new();
        while let Some((key, row, _, diff)) = updates.next() {
            group.clear();
            group.push((row, diff));
            while let Some((_, row, _, diff)) = updates.next_if(|(k, _, _, _)| *k == key) {
                group.push((row, diff));
            }
            if watched {
                consolidate_into(&group, &mut changes);
            }
            *count = count.saturating_add_signed(group.iter().map(|(_, d)| *d as isize).sum());
            let emptied = match by_key.get_mut(&key) {
                Some(slot) => {
                    apply_group(slot, &mut group, anomalies);
                    slot.is_empty()
                }
                None => {
                    let mut slot = Vec::new();
                    apply_group(&mut slot, &mut group, anomalies);
                    if !slot.is_empty() {
                        by_key.insert(key.clone(), slot);
                    }
                    false
                }
            };
            if emptied {
                by_key.remove(&key);
            }
        }
        drop(rows);
        self.feed
            .commit(frontier, encode_changes(&self.fields, frontier, changes));
    }

    fn snapshot(&self) -> Result<RecordBatch, EngineError> {
        let rows = self.rows();
        serde_arrow::to_record_batch(&self.fields, &rows).map_err(|e| EngineError::ArrowConversion {
            projection: self.name.clone(),
            reason: e.to_string(),
        })
    }

    fn freeze(&self) -> Arc<dyn FrozenTable> {
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        Arc::new(FrozenRows {
            name: self.name.clone(),
            schema: self.schema.clone(),
            fields: self.fields.clone(),
            key_columns: self.key_columns.clone(),
            rows: rows.by_key.clone(),
            count: rows.count,
        })
    }

    fn key_columns(&self) -> &[String] {
        &self.key_columns
    }

    fn row_count(&self) -> usize {
        self.rows.read().unwrap_or_else(PoisonError::into_inner).count
    }

    fn anomalies(&self) -> u64 {
        self.rows.read().unwrap_or_else(PoisonError::into_inner).anomalies
    }

    fn subscribe(
        &self,
        _pinned: &CatalogRead<'_>,
        capacity: usize,
    ) -> Result<(RecordBatch, Subscription), EngineError> {
        let snapshot = self.snapshot()?;
        Ok((snapshot, self.feed.subscribe(capacity)))
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Row {
        k: i64,
        v: f64,
    }

    fn row(k: i64, v: f64) -> Row {
        Row { k, v }
    }

    fn table() -> ProjectionTable<i64, Row> {
        ProjectionTable::new(
            "t",
            vec![
                Arc::new(Field::new("k", DataType::Int64, false)),
                Arc::new(Field::new("v", DataType::Float64, false)),
            ],
        )
    }

    #[test]
    fn applies_only_updates_before_the_frontier() {
        let t = table();
        t.stage([
            (1, row(1, 1.0), 0, 1),
            (2, row(2, 2.0), 0, 1),
            (1, row(1, 1.5), 3, 1),
            (1, row(1, 1.0), 3, -1),
        ]);
        t.apply_until(1);
        assert_eq!(t.rows(), [row(1, 1.0), row(2, 2.0)]);
        t.apply_until(4);
        assert_eq!(t.get(&1), [row(1, 1.5)]);
        assert_eq!(t.row_count(), 2);
        t.stage([(2, row(2, 2.0), 5, -1)]);
        t.apply_until(6);
        assert_eq!(t.rows(), [row(1, 1.5)]);
        assert_eq!(t.anomalies(), 0);
        assert_eq!(t.snapshot().expect("converts").num_rows(), 1);
    }

    #[test]
    fn a_frozen_table_keeps_its_rows_while_later_epochs_are_applied() -> Result<(), EngineError> {
        let t = ProjectionTable::<i64, Row>::with_key_columns(
            "t",
            vec![
                Arc::new(Field::new("k", DataType::Int64, false)),
                Arc::new(Field::new("v", DataType::Float64, false)),
            ],
            vec!["k".into()],
        );
        t.stage([(1, row(1, 1.0), 0, 1), (2, row(2, 2.0), 0, 1)]);
        t.apply_until(1);
        let frozen = t.freeze();
        t.stage([(1, row(1, 1.0), 1, -1), (1, row(1, 9.0), 1, 1), (3, row(3, 3.0), 1, 1)]);
        t.apply_until(2);
        assert_eq!(t.rows(), [row(1, 9.0), row(2, 2.0), row(3, 3.0)]);
        assert_eq!(frozen.row_count(), 2);
        assert_eq!(frozen.key_columns(), ["k"]);
        let batches: Vec<RecordBatch> = frozen.clone().batches(1, None).collect::<Result<_, _>>()?;
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
        let one = frozen.lookup(&[serde_json::json!(1), serde_json::json!(3)])?;
        let values = one
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .map(|a| a.values().to_vec());
        assert_eq!(
            values,
            Some(vec![1.0]),
            "the frozen row, not the later one; key 3 came later"
        );
        Ok(())
    }

    #[test]
    fn counts_negative_multiplicities_instead_of_keeping_them() {
        let t = table();
        t.stage([(7, row(7, 0.0), 0, -1)]);
        t.apply_until(1);
        assert!(t.rows().is_empty());
        assert_eq!(t.anomalies(), 1);
    }
}
