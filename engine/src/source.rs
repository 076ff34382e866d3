//! The source contract: how records enter a dataflow.
//!
//! A [`Source`] is a description shared by all workers; each worker [`open`](Source::open)s
//! its own [`SourceReader`] for its share of the input (a generator splits by event index, a
//! Kafka source by partition). The runtime polls readers between dataflow steps and tags what
//! they emit with the worker's current epoch, so a reader never sees logical time.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::EngineError;
use crate::time::Epoch;

/// Which worker a reader serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerInfo {
    /// This worker's index in `0..peers`.
    pub index: usize,
    /// The number of workers in the computation.
    pub peers: usize,
}

/// What a reader says after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    /// It may have more records right now: poll again soon.
    Ready,
    /// Nothing to read now; the runtime may park briefly before polling again.
    Idle,
    /// The input has ended (bounded sources); the reader is not polled again.
    Finished,
}

/// A source of records of type `T`, shared by every worker.
pub trait Source<T>: Send + Sync + 'static {
    /// A short description for logs, e.g. `generator(sensors=100, rate=10000/s)`.
    fn describe(&self) -> String;
    /// Opens this worker's reader.
    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<T>>, EngineError>;
}

/// One worker's share of a source.
pub trait SourceReader<T> {
    /// Emits at most `budget` records into `out`.
    fn poll(&mut self, out: &mut SourceOutput<'_, T>, budget: usize) -> SourceStatus;
}

/// Where a reader emits records; tags them with the current epoch and counts them.
#[derive(Debug)]
pub struct SourceOutput<'a, T> {
    pub(crate) buffer: &'a mut Vec<(T, Epoch, isize)>,
    pub(crate) epoch: Epoch,
    pub(crate) counters: &'a StreamCounters,
}

impl<T> SourceOutput<'_, T> {
    /// Emits one accepted record.
    pub fn give(&mut self, record: T) {
        self.buffer.push((record, self.epoch, 1));
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// The epoch records emitted now are tagged with (an ingest ticket).
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }
}

/// Per-stream ingest counters, summed over workers. `received = accepted + dead_lettered`.
#[derive(Debug, Default)]
pub struct StreamCounters {
    /// Records read from the source.
    pub received: AtomicU64,
    /// Records that entered the dataflow.
    pub accepted: AtomicU64,
    /// Records sent to the dead-letter queue.
    pub dead_lettered: AtomicU64,
}

/// A point-in-time copy of [`StreamCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    /// Records read from the source.
    pub received: u64,
    /// Records that entered the dataflow.
    pub accepted: u64,
    /// Records sent to the dead-letter queue.
    pub dead_lettered: u64,
}

impl StreamCounters {
    /// Reads the counters.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            received: self.received.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
        }
    }
}
