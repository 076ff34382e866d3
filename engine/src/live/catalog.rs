//! The catalog of live projections and the one frontier they are all read at.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use arrow::datatypes::FieldRef;
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::changes::Subscription;
use super::table::{LiveTable, ProjectionTable};
use crate::EngineError;
use crate::time::Epoch;

/// All live projections of a running pipeline, readable at one consistent frontier.
pub struct LiveCatalog {
    peers: usize,
    /// Registered tables: the typed handle (for sinks) and the erased one (for readers).
    tables: RwLock<BTreeMap<String, Registered>>,
    /// Per projection, the last frontier each worker reported (`None`: not yet).
    progress: Mutex<BTreeMap<String, Vec<Option<Epoch>>>>,
    /// The committed frontier; held for writing while updates are applied.
    committed: RwLock<Epoch>,
    /// Wakes readers waiting for a frontier (read-your-writes).
    advanced: (Mutex<Epoch>, Condvar),
}

impl std::fmt::Debug for LiveCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCatalog")
            .field("peers", &self.peers)
            .field("tables", &self.table_names())
            .field("as_of", &self.as_of())
            .finish()
    }
}

struct Registered {
    erased: Arc<dyn LiveTable>,
    typed: Arc<dyn Any + Send + Sync>,
}

impl LiveCatalog {
    /// A catalog fed by `peers` workers.
    pub fn new(peers: usize) -> Self {
        Self {
            peers: peers.max(1),
            tables: RwLock::new(BTreeMap::new()),
            progress: Mutex::new(BTreeMap::new()),
            committed: RwLock::new(0),
            advanced: (Mutex::new(0), Condvar::new()),
        }
    }

    /// Registers (or, from a second worker, looks up) a projection table without declared
    /// key columns.
    pub fn register<K, P>(&self, name: &str, fields: Vec<FieldRef>) -> Result<Arc<ProjectionTable<K, P>>, EngineError>
    where
        K: Ord + Clone + DeserializeOwned + Send + Sync + 'static,
        P: Serialize + PartialEq + Clone + Send + Sync + 'static,
    {
        self.register_keyed(name, fields, Vec::new())
    }

    /// Registers (or, from a second worker, looks up) a projection table whose key is made of
    /// the values of `key_columns`, in order.
    pub fn register_keyed<K, P>(
        &self,
        name: &str,
        fields: Vec<FieldRef>,
        key_columns: Vec<String>,
    ) -> Result<Arc<ProjectionTable<K, P>>, EngineError>
    where
        K: Ord + Clone + DeserializeOwned + Send + Sync + 'static,
        P: Serialize + PartialEq + Clone + Send + Sync + 'static,
    {
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = tables.get(name) {
            return existing
                .typed
                .clone()
                .downcast::<ProjectionTable<K, P>>()
                .map_err(|_| EngineError::ProjectionTypeMismatch(name.to_string()));
        }
        let table = Arc::new(ProjectionTable::<K, P>::with_key_columns(name, fields, key_columns));
        tables.insert(
            name.to_string(),
            Registered {
                erased: table.clone(),
                typed: table.clone(),
            },
        );
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string(), vec![None; self.peers]);
        Ok(table)
    }

    /// Records that `worker` has handed over every update of `projection` before `frontier`,
    /// and commits a new consistent frontier if every worker of every projection has passed it.
    pub fn report_frontier(&self, projection: &str, worker: usize, frontier: Epoch) {
        let min = {
            let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(slot) = progress.get_mut(projection).and_then(|v| v.get_mut(worker)) {
                *slot = Some(frontier);
            }
            progress
                .values()
                .flat_map(|v| v.iter())
                .map(|f| f.unwrap_or(0))
                .min()
                .unwrap_or(0)
        };
        if min <= self.as_of() {
            return;
        }
        let tables: Vec<Arc<dyn LiveTable>> = self
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|r| r.erased.clone())
            .collect();
        let mut committed = self.committed.write().unwrap_or_else(PoisonError::into_inner);
        if min <= *committed {
            return;
        }
        for table in &tables {
            table.apply_until(min);
        }
        *committed = min;
        drop(committed);
        let (lock, cvar) = &self.advanced;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = min;
        cvar.notify_all();
    }

    /// The committed frontier: every update with an epoch below it is visible.
    /// `Epoch::MAX` once every input has ended.
    pub fn as_of(&self) -> Epoch {
        *self.committed.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the committed frontier is beyond `epoch` (the record ingested at `epoch` is
    /// visible), or the timeout passes. Returns the frontier reached.
    pub fn wait_beyond(&self, epoch: Epoch, timeout: Duration) -> Epoch {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &self.advanced;
        let mut reached = lock.lock().unwrap_or_else(PoisonError::into_inner);
        while *reached <= epoch {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            reached = cvar
                .wait_timeout(reached, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *reached
    }

    /// Names of the registered projections.
    pub fn table_names(&self) -> Vec<String> {
        self.tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Each projection's own frontier: the lowest any worker has reported for it (`0`
    /// before every worker has). The committed frontier ([`as_of`](Self::as_of)) is the
    /// lowest of these; a projection ahead of it waits for the slowest one.
    pub fn projection_frontiers(&self) -> BTreeMap<String, Epoch> {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, workers)| {
                let frontier = workers.iter().map(|f| f.unwrap_or(0)).min().unwrap_or(0);
                (name.clone(), frontier)
            })
            .collect()
    }

    /// A table by name, without any consistency guarantee (for schemas and metadata).
    pub fn table(&self, name: &str) -> Option<Arc<dyn LiveTable>> {
        self.tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(|r| r.erased.clone())
    }

    /// Pins the committed frontier: while the returned guard lives no update is applied, so
    /// every table read through it reflects exactly `as_of`.
    pub fn read(&self) -> CatalogRead<'_> {
        CatalogRead {
            catalog: self,
            guard: self.committed.read().unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// A consistent read of the catalog at one frontier.
pub struct CatalogRead<'a> {
    catalog: &'a LiveCatalog,
    guard: RwLockReadGuard<'a, Epoch>,
}

impl std::fmt::Debug for CatalogRead<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogRead").field("as_of", &*self.guard).finish()
    }
}

impl CatalogRead<'_> {
    /// The frontier every table read through this guard reflects.
    pub fn as_of(&self) -> Epoch {
        *self.guard
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<Arc<dyn LiveTable>> {
        self.catalog.table(name)
    }

    /// Subscribes to `projection`: its rows as of this read and a queue of `capacity` change
    /// batches that receives every later frontier's changes, starting right after
    /// [`as_of`](Self::as_of) (the read holds the frontier, so nothing is applied between the
    /// two). `Ok(None)` when there is no such projection.
    pub fn subscribe(&self, projection: &str, capacity: usize) -> Result<Option<Subscribed>, EngineError> {
        let Some(table) = self.table(projection) else {
            return Ok(None);
        };
        let (snapshot, changes) = table.subscribe(self, capacity)?;
        Ok(Some(Subscribed {
            as_of: self.as_of(),
            snapshot,
            changes,
        }))
    }
}

/// A new subscription: the snapshot it starts from and the changes after it.
#[derive(Debug)]
pub struct Subscribed {
    /// The frontier the snapshot reflects; every change batch has a later `as_of`.
    pub as_of: Epoch,
    /// The projection's rows at `as_of`.
    pub snapshot: RecordBatch,
    /// The change batches of the frontiers after `as_of`.
    pub changes: Subscription,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arrow::datatypes::{DataType, Field};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Row {
        k: i64,
    }

    fn fields() -> Vec<FieldRef> {
        vec![Arc::new(Field::new("k", DataType::Int64, false))]
    }

    #[test]
    fn commits_only_the_minimum_frontier_of_every_worker_and_projection() -> Result<(), EngineError> {
        let catalog = LiveCatalog::new(2);
        let a = catalog.register::<i64, Row>("a", fields())?;
        let b = catalog.register::<i64, Row>("b", fields())?;
        assert!(Arc::ptr_eq(&a, &catalog.register::<i64, Row>("a", fields())?));
        assert!(matches!(
            catalog.register::<u8, Row>("a", fields()),
            Err(EngineError::ProjectionTypeMismatch(_))
        ));

        a.stage([(1, Row { k: 1 }, 0, 1)]);
        catalog.report_frontier("a", 0, 5);
        catalog.report_frontier("a", 1, 5);
        assert_eq!(catalog.as_of(), 0, "projection b has not reported");
        catalog.report_frontier("b", 0, 3);
        catalog.report_frontier("b", 1, 4);
        assert_eq!(catalog.as_of(), 3);
        assert_eq!(catalog.read().table("a").map(|t| t.row_count()), Some(1));
        b.stage([(2, Row { k: 2 }, 3, 1)]);
        catalog.report_frontier("b", 0, 9);
        assert_eq!(catalog.as_of(), 4, "a is at 5, b's worker 1 at 4");
        assert_eq!(catalog.read().table("b").map(|t| t.row_count()), Some(1));
        Ok(())
    }

    #[test]
    fn wait_beyond_returns_once_the_frontier_passes_or_times_out() -> Result<(), EngineError> {
        let catalog = Arc::new(LiveCatalog::new(1));
        catalog.register::<i64, Row>("a", fields())?;
        assert_eq!(catalog.wait_beyond(0, Duration::from_millis(20)), 0, "times out");
        let writer = Arc::clone(&catalog);
        let handle = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            writer.report_frontier("a", 0, 7);
        });
        assert_eq!(catalog.wait_beyond(5, Duration::from_secs(10)), 7);
        handle
            .join()
            .map_err(|_| EngineError::Runtime("writer panicked".into()))?;
        Ok(())
    }
}
