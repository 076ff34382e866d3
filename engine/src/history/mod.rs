//! History: every accepted record, appended to an event store as its epoch closes.
//!
//! The engine defines the contract and the pieces every store shares; the Parquet store lives
//! in `tributary-connectors` (the engine cannot depend on it). When a runtime is started with
//! a [`HistoryStore`] (see [`Runtime::start_with_history`](crate::Runtime::start_with_history)),
//! each worker opens one [`HistoryWriter`] per stream. The worker keeps the records its
//! stream accepted in the open epoch and, when the epoch closes, moves them to the writer as
//! one [`EpochRecords`] — no encoding on the worker thread: [`HistoryRows::encode`] (serde →
//! Arrow, plus the `_epoch` and `_event_time` columns) runs on the writer's own thread.
//!
//! The writer reports a **durable frontier**: every epoch before it is in committed files.
//! With history on, a reader hears [`processed`](crate::source::SourceReader::processed)
//! only up to `min(projection frontier, durable frontier)`, so a Kafka offset is committed
//! only once the file holding its record is in the [manifest](manifest).
//!
//! A store that already holds committed files when the runtime starts is [recovered](recovery)
//! from: the workers replay it before their sources resume at the manifest's positions.

pub mod manifest;
pub mod recovery;
mod rows;

use std::fmt::Debug;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

pub use manifest::{FileEntry, ManifestEntry, ManifestError, ManifestLog};
pub use recovery::Recovery;
pub use rows::{
    EPOCH_COLUMN, EVENT_TIME_COLUMN, HistoryRecord, HistoryRows, TypedRows, decode_history_batch, history_schema,
};

use crate::EngineError;
use crate::source::{SourceCheckpoint, WorkerInfo};
use crate::time::Epoch;

/// Where history goes: opens one writer per (stream, worker).
pub trait HistoryStore: Send + Sync + Debug {
    /// Opens the writer of `stream` on `worker`; `schema` is what [`HistoryRows::encode`]
    /// produces for it (the record's fields, then `_epoch` and `_event_time`).
    fn open(&self, stream: &str, worker: WorkerInfo, schema: SchemaRef) -> Result<Box<dyn HistoryWriter>, EngineError>;

    /// The files that were committed when the store was opened: what a runtime started on
    /// it rebuilds its state from (see [`recovery`]).
    fn committed(&self) -> Vec<FileEntry>;

    /// Reads one committed file back, as batches of its stream's [`history_schema`].
    fn read(&self, file: &FileEntry) -> Result<Vec<RecordBatch>, EngineError>;
}

/// One stream's history on one worker.
pub trait HistoryWriter: Send {
    /// Takes the records accepted in one closed epoch (possibly none). Epochs arrive in
    /// increasing order. Never blocks on I/O.
    fn append(&mut self, records: EpochRecords);

    /// Every epoch before this one is in committed files (0 before anything is).
    fn durable(&self) -> Epoch;

    /// Commits everything appended and waits for it; afterwards [`durable`](Self::durable)
    /// is [`Epoch::MAX`]. Reports the first write error, if any.
    fn finish(&mut self) -> Result<(), EngineError>;
}

/// The records one worker's stream accepted in one epoch, handed to its writer.
pub struct EpochRecords {
    /// The epoch they entered in.
    pub epoch: Epoch,
    /// The records, not yet encoded.
    pub rows: Box<dyn HistoryRows>,
    /// The reader's resume position as of the end of this epoch, if it has one.
    pub checkpoint: Option<SourceCheckpoint>,
}

impl Debug for EpochRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochRecords")
            .field("epoch", &self.epoch)
            .field("rows", &self.rows.len())
            .field("checkpoint", &self.checkpoint)
            .finish()
    }
}
