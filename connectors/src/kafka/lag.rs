//! Per-partition consumer lag, read from librdkafka's statistics.
//!
//! Each worker's consumer reports statistics for the partitions it owns every
//! `statistics_interval_ms`; [`PartitionLag`] keeps the latest report per worker and
//! merges them on read, so a partition that moved to another worker (a rebalance) is shown
//! by its new owner as soon as that one reports. The query side holds an
//! `Arc<PartitionLag>` from [`KafkaSource::lag`](super::KafkaSource::lag).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use rdkafka::statistics::Statistics;
use serde::Serialize;

/// The lag of one partition, as of its owner's last statistics report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionLagRow {
    /// The worker whose consumer owns the partition.
    pub worker: usize,
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Messages between the committed offset and the partition's end (high watermark);
    /// `None` until both are known.
    pub lag: Option<i64>,
    /// The group's committed offset (the next message to read); `None` before the first
    /// commit.
    pub committed_offset: Option<i64>,
}

/// The latest lag of every partition the source's consumers own (see the module docs).
#[derive(Debug, Default)]
pub struct PartitionLag {
    by_worker: Mutex<BTreeMap<usize, Vec<PartitionLagRow>>>,
}

impl PartitionLag {
    /// Every owned partition, ordered by topic and partition. When two workers both
    /// reported a partition (a rebalance between reports), the larger lag is shown.
    pub fn snapshot(&self) -> Vec<PartitionLagRow> {
        let by_worker = self.by_worker.lock().unwrap_or_else(PoisonError::into_inner);
        let mut merged: BTreeMap<(String, i32), PartitionLagRow> = BTreeMap::new();
        for row in by_worker.values().flatten() {
            let key = (row.topic.clone(), row.partition);
            match merged.get(&key) {
                Some(seen) if seen.lag >= row.lag => {}
                _ => {
                    merged.insert(key, row.clone());
                }
            }
        }
        merged.into_values().collect()
    }

    /// Replaces what `worker` reported with the partitions it owns in `statistics`.
    pub(super) fn report(&self, worker: usize, statistics: &Statistics) {
        let rows = statistics
            .topics
            .iter()
            .flat_map(|(topic, t)| {
                t.partitions
                    .values()
                    // Partition -1 is librdkafka's internal "unassigned" queue.
                    .filter(|p| p.partition >= 0 && p.desired)
                    .map(move |p| PartitionLagRow {
                        worker,
                        topic: topic.clone(),
                        partition: p.partition,
                        lag: (p.consumer_lag >= 0).then_some(p.consumer_lag),
                        committed_offset: (p.committed_offset >= 0).then_some(p.committed_offset),
                    })
            })
            .collect();
        self.by_worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(worker, rows);
    }
}
