//! Replay: a bounded source that feeds a pipeline from a stream's committed history.
//!
//! **Order.** The live run's results depend on more than the set of records: a record's
//! lateness is judged against the watermark of the epoch it *arrived* in. So replay
//! reproduces the arrival epochs: each worker reads the files its live counterpart wrote
//! (`worker mod peers`), and emits the records of original epoch `e` in replay epoch `e`,
//! in event-time order within the epoch, then reports [`SourceStatus::EpochDone`] so the
//! runtime closes the epoch at once instead of waiting for its clock. Run the replay with
//! the runtime's time- and size-based cuts out of the way (see
//! [`ReplayOptions::runtime_config`]) and every epoch holds exactly what it held live, so
//! the projections equal the live ones bit for bit. Only files named by the manifest are
//! read.
//!
//! This first version loads a worker's share into memory when the reader opens.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use tributary_engine::history::manifest::{FileEntry, MANIFEST_FILE, read_manifest};
use tributary_engine::history::{HistoryRecord, decode_history_batch};
use tributary_engine::source::{Source, SourceOutput, SourceReader, SourceStatus, WorkerInfo};
use tributary_engine::{EngineError, Epoch, EventTime, RuntimeConfig};

use super::{HistoryStoreError, read_file};

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOptions {
    /// The history directory (with `_manifest.ndjson`).
    pub dir: PathBuf,
    /// Replay only records with event time at most this (ms); all when `None`.
    pub until: Option<EventTime>,
}

impl ReplayOptions {
    /// A runtime configuration for replay with `workers` workers (use the live run's count
    /// for bit-for-bit results): epochs are cut only by the replay source.
    pub fn runtime_config(workers: usize) -> RuntimeConfig {
        RuntimeConfig {
            epoch_interval_ms: u64::MAX / 4,
            epoch_max_records: usize::MAX,
            ..RuntimeConfig::with_workers(workers)
        }
    }
}

/// How far a replay has come, shared by its readers (for a progress bar).
#[derive(Debug, Default)]
pub struct ReplayProgress {
    /// Records in the files being replayed (before the `until` cut).
    pub total: AtomicU64,
    /// Records emitted so far.
    pub emitted: AtomicU64,
}

/// A bounded source over the history of one stream.
#[derive(Debug, Clone)]
pub struct HistoryReplay {
    stream: String,
    options: ReplayOptions,
    files: Arc<Vec<FileEntry>>,
    progress: Arc<ReplayProgress>,
}

impl HistoryReplay {
    /// Replays `stream` from the manifest in `options.dir`.
    pub fn open(stream: &str, options: ReplayOptions) -> Result<Self, HistoryStoreError> {
        let files: Vec<FileEntry> = read_manifest(&options.dir.join(MANIFEST_FILE))?
            .into_iter()
            .filter(|f| f.stream == stream)
            .filter(|f| options.until.is_none_or(|u| f.min_event_time <= u))
            .collect();
        let progress = ReplayProgress::default();
        progress
            .total
            .store(files.iter().map(|f| f.rows).sum(), Ordering::Relaxed);
        Ok(Self {
            stream: stream.to_string(),
            options,
            files: Arc::new(files),
            progress: Arc::new(progress),
        })
    }

    /// The replay's progress counters.
    pub fn progress(&self) -> Arc<ReplayProgress> {
        self.progress.clone()
    }

    /// The records of this worker's files, in (epoch, event time) order.
    fn load<T: DeserializeOwned>(&self, worker: WorkerInfo) -> Result<Vec<HistoryRecord<T>>, HistoryStoreError> {
        let mut rows = Vec::new();
        for file in self.files.iter().filter(|f| f.worker % worker.peers == worker.index) {
            for batch in read_file(&self.options.dir, file)? {
                let records = decode_history_batch::<T>(&batch).map_err(|reason| HistoryStoreError::Decode {
                    stream: self.stream.clone(),
                    reason: format!("{}: {reason}", file.file),
                })?;
                rows.extend(
                    records
                        .into_iter()
                        .filter(|(_, ts, _)| self.options.until.is_none_or(|u| *ts <= u)),
                );
            }
        }
        rows.sort_by_key(|(epoch, ts, _)| (*epoch, *ts));
        Ok(rows)
    }
}

impl<T: DeserializeOwned + Send + 'static> Source<T> for HistoryReplay {
    fn describe(&self) -> String {
        format!("history replay({}, {} files)", self.stream, self.files.len())
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<T>>, EngineError> {
        let rows = self.load(worker).map_err(|e| EngineError::Source {
            source_name: format!("history replay({})", self.stream),
            reason: e.to_string(),
        })?;
        Ok(Box::new(ReplayReader {
            rows: rows.into_iter().peekable(),
            progress: self.progress.clone(),
        }))
    }
}

struct ReplayReader<T> {
    rows: std::iter::Peekable<std::vec::IntoIter<(Epoch, EventTime, T)>>,
    progress: Arc<ReplayProgress>,
}

impl<T> SourceReader<T> for ReplayReader<T> {
    fn poll(&mut self, out: &mut SourceOutput<'_, T>, budget: usize) -> SourceStatus {
        let epoch = out.epoch();
        let mut emitted = 0;
        while emitted < budget {
            match self.rows.next_if(|(e, _, _)| *e <= epoch) {
                Some((_, _, record)) => {
                    out.give(record);
                    emitted += 1;
                }
                None => break,
            }
        }
        self.progress.emitted.fetch_add(emitted as u64, Ordering::Relaxed);
        match self.rows.peek() {
            None => SourceStatus::Finished,
            Some((e, _, _)) if *e > epoch => SourceStatus::EpochDone,
            Some(_) => SourceStatus::Ready,
        }
    }
}
