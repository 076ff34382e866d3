//! The source contract: how records enter a dataflow.
//!
//! A [`Source`] is a description shared by all workers; each worker [`open`](Source::open)s
//! its own [`SourceReader`] for its share of the input (a generator splits by event index, a
//! Kafka source by partition). The runtime polls readers between dataflow steps and tags what
//! they emit with the worker's current epoch, so a reader never sees logical time.
//!
//! A record a reader cannot accept goes to the [`DeadLetterQueue`] through
//! [`SourceOutput::reject`], with its raw bytes and [`SourcePosition`]; the pipeline keeps
//! running and the stream's counters keep `received = accepted + dead_lettered`. Once every
//! record of an epoch has reached every projection, the runtime tells the reader
//! ([`SourceReader::processed`]) so it can commit offsets or acknowledge messages: delivery is
//! at-least-once into the projections. With history on, a reader also says where it would
//! resume ([`SourceReader::checkpoint`], stored in the history manifest) and is opened at that
//! position after a restart ([`Source::open_resuming`]), which makes it exactly-once.

mod checkpoint;
mod dead_letter;
mod health;
mod position;
mod spec;

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

pub use checkpoint::{KafkaPosition, SourceCheckpoint};
pub use dead_letter::{DeadLetter, DeadLetterQueue, DeadLetterSink, RejectKind};
pub use health::{Connectivity, SourceHealth, SourceHealthRegistry, SourceLink};
pub use position::SourcePosition;
pub use spec::{EventTimeFn, StreamSpec};

use crate::EngineError;
use crate::record::DecodeError;
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
    /// Everything for the current epoch is out: close it now rather than at the runtime's
    /// next time- or size-based cut. Lets a replay reproduce the epochs of a live run.
    EpochDone,
}

/// A source of records of type `T`, shared by every worker.
pub trait Source<T>: Send + Sync + 'static {
    /// A short description for logs, e.g. `generator(sensors=100, rate=10000/s)`.
    fn describe(&self) -> String;
    /// Opens this worker's reader.
    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<T>>, EngineError>;

    /// Opens this worker's reader for a stream with history, to continue right after
    /// `resume`: the position the history manifest recorded for it (`None` when history
    /// holds nothing of it yet). Called instead of [`open`](Self::open) whenever the runtime
    /// writes history, so that recovery after a restart neither loses nor repeats a record.
    ///
    /// A source that implements it must also read a fixed share of its input per worker (no
    /// rebalancing between the workers), or a record could reach history twice. The default
    /// opens the reader as [`open`](Self::open) does and ignores `resume`: such a source
    /// starts wherever it starts, and what it repeats is in history twice.
    fn open_resuming(
        &self,
        worker: WorkerInfo,
        resume: Option<&SourceCheckpoint>,
    ) -> Result<Box<dyn SourceReader<T>>, EngineError> {
        let _ = resume;
        self.open(worker)
    }
}

/// One worker's share of a source.
pub trait SourceReader<T> {
    /// Emits at most `budget` records into `out`.
    fn poll(&mut self, out: &mut SourceOutput<'_, T>, budget: usize) -> SourceStatus;

    /// Every record this reader emitted in an epoch before `frontier` has reached every
    /// projection: commit offsets, acknowledge messages. Called when the frontier advances,
    /// and with [`Epoch::MAX`] once the dataflow has drained at shutdown.
    fn processed(&mut self, frontier: Epoch) {
        let _ = frontier;
    }

    /// Where this reader would resume: everything it emitted so far is before this position.
    /// Asked at each epoch close when history is on, and stored in the history manifest.
    /// `None` (the default) for readers that cannot say.
    fn checkpoint(&self) -> Option<SourceCheckpoint> {
        None
    }
}

/// Where a reader emits records; tags them with the current epoch and counts them.
#[derive(Debug)]
pub struct SourceOutput<'a, T> {
    pub(crate) stream: &'a str,
    pub(crate) buffer: &'a mut Vec<(T, Epoch, isize)>,
    pub(crate) epoch: Epoch,
    pub(crate) counters: &'a StreamCounters,
    pub(crate) dead_letters: &'a DeadLetterQueue,
    pub(crate) link: &'a SourceLink,
}

impl<T> SourceOutput<'_, T> {
    /// Emits one accepted record.
    pub fn give(&mut self, record: T) {
        self.buffer.push((record, self.epoch, 1));
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends a record that failed to decode to the dead-letter queue.
    pub fn reject(&mut self, position: SourcePosition, raw: &[u8], error: &DecodeError) {
        let letter = DeadLetter::from_decode_error(self.stream, position, raw, error);
        self.dead_letters.reject(self.counters, letter);
    }

    /// Sends a rejected record with a reason of the reader's own to the dead-letter queue.
    pub fn dead_letter(&mut self, position: SourcePosition, raw: &[u8], kind: RejectKind, reason: String) {
        let letter = DeadLetter::new(self.stream, position, kind, reason, raw);
        self.dead_letters.reject(self.counters, letter);
    }

    /// Reports whether the reader is connected to its broker (`/readyz`, `system.sources`).
    /// A reader without a connection never calls it.
    pub fn report_connected(&mut self, connected: bool) {
        self.link.report_connected(connected);
    }

    /// Reports how many records the reader is behind its source (e.g. consumer lag).
    pub fn report_lag(&mut self, lag: u64) {
        self.link.report_lag(lag);
    }

    /// The stream this output feeds.
    pub fn stream(&self) -> &str {
        self.stream
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
    /// Accepted records that the dataflow later found behind the watermark and dead-lettered
    /// as `late` (a subset of `accepted`, so `received = accepted + dead_lettered` still holds).
    pub late: AtomicU64,
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
    /// Accepted records later dead-lettered as late (a subset of `accepted`).
    pub late: u64,
}

impl StreamCounters {
    /// Reads the counters.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            received: self.received.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
        }
    }
}
