//! HTTP ingest into any stream of any pipeline.
//!
//! Every [`Pipeline::source`](crate::Pipeline::source) also opens its stream to ingest: the
//! stream's [`IngestEndpoint`] (found by name in the [`IngestRegistry`]) splits a body into
//! records ([`split_body`]), decodes each into the stream's type, dead-letters the bad ones
//! with their line numbers and queues the good ones for the workers. A worker emits a queued
//! batch in its current epoch `e` and answers with it; the request's **ticket** is `e + 1`,
//! the first frontier (`as_of`) at which every projection includes the batch. Good records
//! are accepted even when others in the same body are rejected.
//!
//! Backpressure: the queue holds a bounded number of batches; beyond it ingest answers
//! [`IngestError::Busy`] rather than buffering without bound.

mod body;
mod endpoint;
mod queue;

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use body::{BodyRecord, split_body};
pub use endpoint::PendingIngest;
pub(crate) use endpoint::TypedEndpoint;
pub(crate) use queue::{IngestBatch, IngestQueue};

use crate::time::Epoch;

/// Why one record of a body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// 1-based line (NDJSON) or element (array) number.
    pub line: usize,
    /// What was wrong with it.
    pub reason: String,
}

/// The answer to one ingest request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Records that entered the dataflow.
    pub accepted: usize,
    /// Records sent to the dead-letter queue.
    pub rejected: usize,
    /// One entry per rejected record.
    pub errors: Vec<LineError>,
    /// The first frontier (`as_of`) at which every projection includes the accepted
    /// records; `0` when none were accepted.
    pub ticket: Epoch,
}

/// Why an ingest request failed as a whole. Records rejected before the failure stay
/// dead-lettered and counted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IngestError {
    /// No stream of that name.
    #[error("no stream `{0}`")]
    UnknownStream(String),
    /// The stream no longer takes records (its source ended or the pipeline is stopping).
    #[error("stream `{0}` is closed: its source has ended or the pipeline is shutting down")]
    Closed(String),
    /// Too many requests are waiting for the workers; retry later.
    #[error("stream `{0}` has too many ingest requests queued; retry later")]
    Busy(String),
    /// The workers did not take the records in time; they may still be applied.
    #[error("stream `{stream}`: the workers did not take the records within {waited:?}")]
    Timeout {
        /// The stream.
        stream: String,
        /// How long the request waited.
        waited: Duration,
    },
}

/// One stream's ingest entry point, type-erased for the HTTP layer.
pub trait IngestEndpoint: Send + Sync + std::fmt::Debug {
    /// Splits, decodes and queues `body`; dead-letters the records that fail.
    fn ingest(&self, body: &[u8]) -> Result<PendingIngest, IngestError>;
}

/// Ingest endpoints by stream name.
#[derive(Debug, Default)]
pub struct IngestRegistry {
    streams: Mutex<BTreeMap<String, Registered>>,
    /// Workers that have finished building their dataflow (successfully or not).
    built: (Mutex<usize>, Condvar),
}

#[derive(Debug)]
struct Registered {
    erased: Arc<dyn IngestEndpoint>,
    typed: Arc<dyn Any + Send + Sync>,
}

impl IngestRegistry {
    /// The endpoint of `stream`.
    pub fn endpoint(&self, stream: &str) -> Result<Arc<dyn IngestEndpoint>, IngestError> {
        self.lock()
            .get(stream)
            .map(|r| r.erased.clone())
            .ok_or_else(|| IngestError::UnknownStream(stream.to_string()))
    }

    /// The names of all streams open to ingest.
    pub fn streams(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The typed endpoint of `stream`, created by the first worker that asks.
    pub(crate) fn register<T, F>(&self, stream: &str, create: F) -> Option<Arc<TypedEndpoint<T>>>
    where
        T: Send + 'static,
        F: FnOnce() -> TypedEndpoint<T>,
        TypedEndpoint<T>: IngestEndpoint,
    {
        let mut streams = self.lock();
        let registered = streams.entry(stream.to_string()).or_insert_with(|| {
            let typed = Arc::new(create());
            Registered {
                erased: typed.clone(),
                typed,
            }
        });
        registered.typed.clone().downcast::<TypedEndpoint<T>>().ok()
    }

    /// A worker has built its dataflow, so its streams are registered.
    pub(crate) fn worker_built(&self) {
        let (count, cv) = &self.built;
        *count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        cv.notify_all();
    }

    /// Blocks until `workers` workers have built their dataflows (at most 30 s: a worker
    /// that fails to start reports its error through the runtime, not here).
    pub(crate) fn wait_for_workers(&self, workers: usize) {
        let (count, cv) = &self.built;
        let guard = count.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = cv
            .wait_timeout_while(guard, Duration::from_secs(30), |built| *built < workers)
            .unwrap_or_else(PoisonError::into_inner);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Registered>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
