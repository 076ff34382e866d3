//! Recovery: rebuilding a pipeline's state from its history when it starts again (after a
//! clean stop or a `kill -9`).
//!
//! When the runtime starts on a [`HistoryStore`] that already holds committed files, each
//! worker first **replays** its share of them — the files its counterpart wrote (`file
//! worker mod peers`), every record in the epoch it originally entered in, an epoch cut only
//! once all of its replayed records are in — so projections, scores and triggers end as they
//! were at the last committed epoch. Replayed records are not appended to history again and
//! not counted as received; the actions and late letters of replayed epochs are not
//! delivered or dead-lettered again (the earlier run did that).
//!
//! Then the worker jumps to the [resume epoch](Recovery::resume_epoch), past every committed
//! file's `epoch_hi`, so epochs never repeat, and its readers continue at the positions the
//! manifest recorded ([`Source::open_resuming`](crate::source::Source::open_resuming)):
//! every record the source delivered is in history, and in the projections, exactly once.
//! Records that were read but whose file was never committed are read again, since the
//! manifest's positions stop before them.
//!
//! `/readyz` answers 503 until every worker has replayed its share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::de::DeserializeOwned;

use super::{FileEntry, HistoryStore, decode_history_batch};
use crate::EngineError;
use crate::source::{KafkaPosition, SourceCheckpoint, WorkerInfo};
use crate::time::Epoch;

/// What a runtime recovers from: the store's committed files (see the module docs).
#[derive(Debug)]
pub struct Recovery {
    store: Arc<dyn HistoryStore>,
    files: Vec<FileEntry>,
    resume_epoch: Epoch,
    /// Workers that have not finished replaying.
    replaying: AtomicUsize,
}

impl Recovery {
    /// The recovery of a runtime on `workers` workers from `store`; `None` when the store
    /// has no committed files (nothing to recover).
    pub fn plan(store: Arc<dyn HistoryStore>, workers: usize) -> Option<Self> {
        let files = store.committed();
        let resume_epoch = files.iter().map(|f| f.epoch_hi).max()?;
        Some(Self {
            store,
            files,
            resume_epoch,
            replaying: AtomicUsize::new(workers),
        })
    }

    /// The first epoch after recovery: one past the last epoch any committed file covers.
    pub fn resume_epoch(&self) -> Epoch {
        self.resume_epoch
    }

    /// The committed files recovered from.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Where `stream`'s reader on `worker` resumes, from the committed files' checkpoints.
    ///
    /// Kafka positions belong to partitions, not workers: the greatest next offset of each
    /// partition over all files of the stream (a reader takes the partitions it is
    /// assigned). A sequence belongs to one reader: the greatest `next` of the files written
    /// by the workers this worker replays, which resumes exactly only with the same worker
    /// count as before.
    pub fn checkpoint(&self, stream: &str, worker: WorkerInfo) -> Option<SourceCheckpoint> {
        let mut kafka: BTreeMap<(String, i32), i64> = BTreeMap::new();
        let mut sequence: Option<u64> = None;
        for file in self.files.iter().filter(|f| f.stream == stream) {
            match &file.checkpoint {
                Some(SourceCheckpoint::Kafka { partitions }) => {
                    for p in partitions {
                        let next = kafka.entry((p.topic.clone(), p.partition)).or_insert(p.next_offset);
                        *next = (*next).max(p.next_offset);
                    }
                }
                Some(SourceCheckpoint::Sequence { next }) if file.worker % worker.peers == worker.index => {
                    sequence = Some(sequence.map_or(*next, |s| s.max(*next)));
                }
                _ => {}
            }
        }
        if !kafka.is_empty() {
            let partitions = kafka
                .into_iter()
                .map(|((topic, partition), next_offset)| KafkaPosition {
                    topic,
                    partition,
                    next_offset,
                })
                .collect();
            return Some(SourceCheckpoint::Kafka { partitions });
        }
        sequence.map(|next| SourceCheckpoint::Sequence { next })
    }

    /// The records `worker` replays for `stream`, with the epoch each entered in, in
    /// (epoch, event time) order.
    pub fn records<T: DeserializeOwned>(
        &self,
        stream: &str,
        worker: WorkerInfo,
    ) -> Result<Vec<(Epoch, T)>, EngineError> {
        let fail = |reason: String| EngineError::History {
            stream: stream.to_string(),
            reason,
        };
        let mut rows = Vec::new();
        let mine = |f: &&FileEntry| f.stream == stream && f.worker % worker.peers == worker.index;
        for file in self.files.iter().filter(mine) {
            for batch in self.store.read(file)? {
                rows.extend(decode_history_batch::<T>(&batch).map_err(|e| fail(format!("{}: {e}", file.file)))?);
            }
        }
        rows.sort_by_key(|(epoch, ts, _)| (*epoch, *ts));
        Ok(rows.into_iter().map(|(epoch, _, record)| (epoch, record)).collect())
    }

    /// One worker has replayed its share; `true` for the last one.
    pub(crate) fn worker_done(&self) -> bool {
        self.replaying.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryWriter;

    /// A store that only lists files (the checkpoints are all recovery looks at here).
    #[derive(Debug)]
    struct Listed(Vec<FileEntry>);

    impl HistoryStore for Listed {
        fn open(
            &self,
            stream: &str,
            _: WorkerInfo,
            _: arrow::datatypes::SchemaRef,
        ) -> Result<Box<dyn HistoryWriter>, EngineError> {
            Err(EngineError::History {
                stream: stream.into(),
                reason: "read-only".into(),
            })
        }
        fn committed(&self) -> Vec<FileEntry> {
            self.0.clone()
        }
        fn read(&self, _: &FileEntry) -> Result<Vec<arrow::record_batch::RecordBatch>, EngineError> {
            Ok(Vec::new())
        }
    }

    fn file(stream: &str, worker: usize, epoch_hi: Epoch, checkpoint: SourceCheckpoint) -> FileEntry {
        FileEntry {
            file: format!("{stream}/date=2026-01-01/hour=00/part-w{worker}-{epoch_hi:06}.parquet"),
            stream: stream.into(),
            worker,
            seq: epoch_hi,
            date: "2026-01-01".into(),
            hour: 0,
            rows: 1,
            bytes: 1,
            min_event_time: 0,
            max_event_time: 0,
            epoch_lo: epoch_hi - 1,
            epoch_hi,
            checkpoint: Some(checkpoint),
        }
    }

    fn kafka(positions: &[(i32, i64)]) -> SourceCheckpoint {
        SourceCheckpoint::Kafka {
            partitions: positions
                .iter()
                .map(|(partition, next_offset)| KafkaPosition {
                    topic: "t".into(),
                    partition: *partition,
                    next_offset: *next_offset,
                })
                .collect(),
        }
    }

    #[test]
    fn resumes_after_the_greatest_epoch_and_position() {
        let w = |index| WorkerInfo { index, peers: 2 };
        let files = vec![
            file("k", 0, 3, kafka(&[(0, 10), (2, 4)])),
            file("k", 1, 9, kafka(&[(1, 7)])),
            file("k", 0, 5, kafka(&[(0, 12)])),
            file("g", 0, 4, SourceCheckpoint::Sequence { next: 8 }),
            file("g", 1, 6, SourceCheckpoint::Sequence { next: 11 }),
            file("g", 0, 7, SourceCheckpoint::Sequence { next: 14 }),
        ];
        let recovery = Recovery::plan(Arc::new(Listed(files)), 2).expect("files to recover");
        assert_eq!(recovery.resume_epoch(), 9);
        // Every worker hears every partition's position; each takes its own.
        assert_eq!(recovery.checkpoint("k", w(1)), Some(kafka(&[(0, 12), (1, 7), (2, 4)])));
        assert_eq!(
            recovery.checkpoint("g", w(0)),
            Some(SourceCheckpoint::Sequence { next: 14 })
        );
        assert_eq!(
            recovery.checkpoint("g", w(1)),
            Some(SourceCheckpoint::Sequence { next: 11 })
        );
        assert_eq!(recovery.checkpoint("other", w(0)), None);
        assert!(!recovery.worker_done());
        assert!(recovery.worker_done(), "the second of two workers is the last");
        assert!(Recovery::plan(Arc::new(Listed(Vec::new())), 2).is_none());
    }
}
