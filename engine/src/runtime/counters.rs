//! Per-stream ingest counters shared by all workers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::source::{CounterSnapshot, StreamCounters};

/// The counters of every stream, by name.
#[derive(Debug, Default)]
pub struct CounterRegistry {
    streams: Mutex<BTreeMap<String, Arc<StreamCounters>>>,
}

impl CounterRegistry {
    /// The counters of `stream`, created on first use.
    pub fn stream(&self, stream: &str) -> Arc<StreamCounters> {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(stream.to_string())
            .or_default()
            .clone()
    }

    /// A snapshot of every stream's counters.
    pub fn snapshot(&self) -> BTreeMap<String, CounterSnapshot> {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.snapshot()))
            .collect()
    }
}
