//! One stream's history writer on one worker: a background thread that encodes each epoch's
//! records, rolls files by size and age, commits them and advances the durable frontier.
//!
//! The worker thread only sends a message per closed epoch; encoding (serde → Arrow),
//! Parquet compression, fsync and rename all happen here.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use tributary_engine::history::manifest::FileEntry;
use tributary_engine::history::{EpochRecords, HistoryWriter, ManifestLog};
use tributary_engine::source::SourceCheckpoint;
use tributary_engine::{EngineError, Epoch};

use super::file::{relative_path, split_by_hour, write_atomically};
use super::{HistoryStoreError, ParquetHistoryConfig};

enum Message {
    Epoch(EpochRecords),
    /// Commit what is buffered, answer, and stop.
    Finish(mpsc::Sender<Result<(), String>>),
}

/// The handle the worker holds.
pub(super) struct ParquetHistoryWriter {
    stream: String,
    sender: Option<mpsc::Sender<Message>>,
    durable: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

/// What the background thread owns.
pub(super) struct Roller {
    pub(super) stream: String,
    pub(super) worker: usize,
    pub(super) schema: SchemaRef,
    pub(super) config: ParquetHistoryConfig,
    pub(super) manifest: Arc<ManifestLog>,
    pub(super) next_seq: u64,
}

/// The records buffered for the next commit.
#[derive(Default)]
struct Roll {
    batches: Vec<RecordBatch>,
    bytes: usize,
    opened: Option<Instant>,
    epoch_lo: Option<Epoch>,
    /// One past the last epoch handed over while the roll was open.
    epoch_hi: Epoch,
    checkpoint: Option<SourceCheckpoint>,
}

impl ParquetHistoryWriter {
    pub(super) fn spawn(roller: Roller) -> Result<Self, HistoryStoreError> {
        let (sender, receiver) = mpsc::channel();
        let durable = Arc::new(AtomicU64::new(0));
        let stream = roller.stream.clone();
        let thread_durable = durable.clone();
        let thread = std::thread::Builder::new()
            .name(format!("history-{}-w{}", roller.stream, roller.worker))
            .spawn(move || roller.run(&receiver, &thread_durable))
            .map_err(|source| HistoryStoreError::Io {
                path: PathBuf::from(&stream),
                source,
            })?;
        Ok(Self {
            stream,
            sender: Some(sender),
            durable,
            thread: Some(thread),
        })
    }

    fn stop(&mut self) -> Result<(), String> {
        let Some(sender) = self.sender.take() else {
            return Ok(());
        };
        let (reply, answer) = mpsc::channel();
        let outcome = match sender.send(Message::Finish(reply)) {
            Ok(()) => answer
                .recv()
                .unwrap_or_else(|_| Err("the history thread stopped".into())),
            Err(_) => Err("the history thread stopped".into()),
        };
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            return Err("the history thread panicked".into());
        }
        outcome
    }
}

impl HistoryWriter for ParquetHistoryWriter {
    fn append(&mut self, records: EpochRecords) {
        // A stopped thread has recorded its error; `finish` reports it.
        if let Some(sender) = &self.sender {
            let _ = sender.send(Message::Epoch(records));
        }
    }

    fn durable(&self) -> Epoch {
        self.durable.load(Ordering::Acquire)
    }

    fn finish(&mut self) -> Result<(), EngineError> {
        self.stop().map_err(|reason| EngineError::History {
            stream: self.stream.clone(),
            reason,
        })?;
        self.durable.store(Epoch::MAX, Ordering::Release);
        Ok(())
    }
}

impl Drop for ParquetHistoryWriter {
    fn drop(&mut self) {
        if let Err(reason) = self.stop() {
            tracing::error!(stream = %self.stream, %reason, "history writer stopped with an error");
        }
    }
}

impl Roller {
    fn run(mut self, receiver: &mpsc::Receiver<Message>, durable: &AtomicU64) {
        let age = Duration::from_millis(self.config.roll_age_ms);
        let mut roll = Roll::default();
        // After a write error nothing more is committed and the durable frontier stays put,
        // so no source position past the failure is ever acknowledged.
        let mut failure: Option<String> = None;
        loop {
            let wait = roll
                .opened
                .map_or(Duration::from_secs(3600), |t| age.saturating_sub(t.elapsed()));
            let message = match receiver.recv_timeout(wait) {
                Ok(message) => Some(message),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if failure.is_none() {
                        self.commit_logged(&mut roll, durable, &mut failure);
                    }
                    return;
                }
            };
            match message {
                Some(Message::Epoch(records)) if failure.is_none() => {
                    if let Err(e) = self.take(&mut roll, records, durable) {
                        failure = Some(e.to_string());
                    } else if roll.bytes >= self.config.roll_bytes {
                        self.commit_logged(&mut roll, durable, &mut failure);
                    }
                }
                Some(Message::Epoch(_)) => {}
                Some(Message::Finish(reply)) => {
                    if failure.is_none() {
                        self.commit_logged(&mut roll, durable, &mut failure);
                    }
                    let _ = reply.send(failure.map_or(Ok(()), Err));
                    return;
                }
                None if failure.is_none() => self.commit_logged(&mut roll, durable, &mut failure),
                None => roll = Roll::default(),
            }
        }
    }

    /// Adds one epoch to the roll (an empty epoch with nothing buffered is durable at once).
    fn take(&self, roll: &mut Roll, records: EpochRecords, durable: &AtomicU64) -> Result<(), EngineError> {
        let epoch = records.epoch;
        if records.rows.is_empty() && roll.batches.is_empty() {
            durable.store(epoch + 1, Ordering::Release);
            return Ok(());
        }
        if !records.rows.is_empty() {
            let batch = records.rows.encode()?;
            roll.bytes += batch.get_array_memory_size();
            roll.batches.push(batch);
            roll.opened.get_or_insert_with(Instant::now);
            roll.epoch_lo.get_or_insert(epoch);
        }
        roll.epoch_hi = epoch + 1;
        if records.checkpoint.is_some() {
            roll.checkpoint = records.checkpoint;
        }
        Ok(())
    }

    fn commit_logged(&mut self, roll: &mut Roll, durable: &AtomicU64, failure: &mut Option<String>) {
        if let Err(e) = self.commit(roll, durable) {
            tracing::error!(stream = %self.stream, worker = self.worker, error = %e, "history commit failed");
            *failure = Some(e.to_string());
        }
    }

    /// Writes the roll's files, appends their manifest entries, then moves the durable
    /// frontier past the roll.
    fn commit(&mut self, roll: &mut Roll, durable: &AtomicU64) -> Result<(), HistoryStoreError> {
        let roll = std::mem::take(roll);
        let Some(epoch_lo) = roll.epoch_lo else {
            return Ok(());
        };
        let batch = concat_batches(&self.schema, &roll.batches)?;
        let mut entries = Vec::new();
        for part in split_by_hour(&batch)? {
            let seq = self.next_seq;
            self.next_seq += 1;
            let relative = relative_path(&self.stream, &part, self.worker, seq);
            let path = self.config.dir.join(&relative);
            let bytes = write_atomically(&self.config.dir, &path, &part.batch, &self.config)?;
            entries.push(FileEntry {
                file: relative.to_string_lossy().replace('\\', "/"),
                stream: self.stream.clone(),
                worker: self.worker,
                seq,
                date: part.date,
                hour: part.hour,
                rows: part.batch.num_rows() as u64,
                bytes,
                min_event_time: part.min_event_time,
                max_event_time: part.max_event_time,
                epoch_lo,
                epoch_hi: roll.epoch_hi,
                checkpoint: roll.checkpoint.clone(),
            });
        }
        self.manifest.append(&entries)?;
        durable.store(roll.epoch_hi, Ordering::Release);
        Ok(())
    }
}
