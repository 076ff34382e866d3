//! Parquet history: every accepted record of every stream, as zstd Parquet files listed in
//! an append-only manifest.
//!
//! Layout under the history directory (`DIR/history`):
//!
//! ```text
//! _manifest.ndjson                                   committed files (see the engine's manifest docs)
//! <stream>/date=YYYY-MM-DD/hour=HH/part-w<worker>-<seq>.parquet
//! ```
//!
//! Each (stream, worker) has a [`HistoryWriter`] whose background thread buffers the closed
//! epochs' records and commits them as one file per event hour when the buffer reaches
//! `roll_bytes` or its oldest record `roll_age_ms`: written as `….parquet.tmp`, fsynced,
//! renamed, the directory fsynced, then the manifest entries appended and fsynced. Only
//! then does the writer's durable frontier move, and with it the source positions the
//! runtime acknowledges (Kafka offset commits). A file that is not in the manifest does not
//! exist for any reader.
//!
//! [`HistoryWriter`]: tributary_engine::history::HistoryWriter

mod config;
mod file;
pub mod replay;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use thiserror::Error;
use tributary_engine::EngineError;
use tributary_engine::history::{FileEntry, HistoryStore, HistoryWriter, ManifestError, ManifestLog};
use tributary_engine::source::WorkerInfo;

pub use config::ParquetHistoryConfig;
pub use replay::{HistoryReplay, ReplayOptions, ReplayProgress};

/// What can go wrong writing or reading history.
#[derive(Debug, Error)]
pub enum HistoryStoreError {
    /// A configuration value is out of range.
    #[error("invalid history configuration: {0}")]
    Config(String),
    /// A stream name cannot be a directory name.
    #[error("stream name `{0}` cannot name a history directory (use letters, digits, `_` and `-`)")]
    StreamName(String),
    /// A file could not be written or read.
    #[error("history file {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest could not be read or appended to.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Parquet encoding or decoding failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Arrow failed to assemble a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A batch does not have the history columns.
    #[error("history schema: {0}")]
    Schema(String),
    /// Rows could not be converted from Arrow back into records.
    #[error("cannot decode history rows of `{stream}`: {reason}")]
    Decode {
        /// The stream.
        stream: String,
        /// The underlying `serde_arrow` message.
        reason: String,
    },
}

/// Writes history as Parquet files in one directory (see the module docs).
#[derive(Debug)]
pub struct ParquetHistoryStore {
    config: ParquetHistoryConfig,
    manifest: Arc<ManifestLog>,
    /// The files committed when the store was opened (what recovery replays).
    committed: Vec<FileEntry>,
    /// Per (stream, worker): the next file sequence number, continuing the manifest's.
    next_seq: Mutex<HashMap<(String, usize), u64>>,
}

impl ParquetHistoryStore {
    /// Opens (creating) the history directory `config.dir` and its manifest.
    pub fn open(config: ParquetHistoryConfig) -> Result<Self, HistoryStoreError> {
        config.validate()?;
        let (manifest, entries) = ManifestLog::open(&config.dir)?;
        let mut next_seq = HashMap::new();
        for file in &entries {
            let next = next_seq.entry((file.stream.clone(), file.worker)).or_insert(0);
            *next = (*next).max(file.seq + 1);
        }
        Ok(Self {
            config,
            manifest: Arc::new(manifest),
            committed: entries,
            next_seq: Mutex::new(next_seq),
        })
    }

    /// The configuration it writes with.
    pub fn config(&self) -> &ParquetHistoryConfig {
        &self.config
    }
}

/// Reads every batch of the committed history file `file` in `dir`.
pub(crate) fn read_file(dir: &std::path::Path, file: &FileEntry) -> Result<Vec<RecordBatch>, HistoryStoreError> {
    let path = dir.join(&file.file);
    let opened = std::fs::File::open(&path).map_err(|source| HistoryStoreError::Io {
        path: path.clone(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(opened)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

fn valid_stream_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl HistoryStore for ParquetHistoryStore {
    fn open(&self, stream: &str, worker: WorkerInfo, schema: SchemaRef) -> Result<Box<dyn HistoryWriter>, EngineError> {
        let fail = |e: HistoryStoreError| EngineError::History {
            stream: stream.to_string(),
            reason: e.to_string(),
        };
        if !valid_stream_name(stream) {
            return Err(fail(HistoryStoreError::StreamName(stream.to_string())));
        }
        let next_seq = *self
            .next_seq
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((stream.to_string(), worker.index))
            .or_insert(0);
        let roller = writer::Roller {
            stream: stream.to_string(),
            worker: worker.index,
            schema,
            config: self.config.clone(),
            manifest: self.manifest.clone(),
            next_seq,
        };
        let writer = writer::ParquetHistoryWriter::spawn(roller).map_err(fail)?;
        Ok(Box::new(writer))
    }

    fn committed(&self) -> Vec<FileEntry> {
        self.committed.clone()
    }

    fn read(&self, file: &FileEntry) -> Result<Vec<RecordBatch>, EngineError> {
        read_file(&self.config.dir, file).map_err(|e| EngineError::History {
            stream: file.stream.clone(),
            reason: e.to_string(),
        })
    }
}
