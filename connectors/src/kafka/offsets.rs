//! Which offsets may be committed: the highest offset per partition emitted (or
//! dead-lettered) in each epoch, released once the runtime says the epoch reached every
//! projection.
//!
//! Shared (behind a mutex) by a worker's reader, which records and releases, and by its
//! consumer context, which forgets revoked partitions during a rebalance. Both run on the
//! worker thread — the rebalance callback runs inside `consumer.poll` — so the lock is never
//! contended; it must just never be held across a call into the consumer.

use std::collections::{BTreeMap, HashMap};

use tributary_engine::Epoch;

/// `(topic, partition)`.
pub(super) type PartitionKey = (String, i32);

/// Pending and released offsets of one consumer (see the module docs).
#[derive(Debug, Default)]
pub(super) struct OffsetTracker {
    /// Per epoch, per topic, per partition: the highest offset emitted in that epoch.
    pending: BTreeMap<Epoch, HashMap<String, HashMap<i32, i64>>>,
    /// Per partition: the next offset to read, as last handed to a commit.
    released: HashMap<PartitionKey, i64>,
}

impl OffsetTracker {
    /// Notes that the message at `offset` was emitted or dead-lettered in `epoch`.
    pub(super) fn record(&mut self, epoch: Epoch, topic: &str, partition: i32, offset: i64) {
        let topics = self.pending.entry(epoch).or_default();
        let partitions = match topics.get_mut(topic) {
            Some(partitions) => partitions,
            None => topics.entry(topic.to_string()).or_default(),
        };
        let highest = partitions.entry(partition).or_insert(offset);
        *highest = (*highest).max(offset);
    }

    /// Releases every epoch before `frontier`: the offsets to commit now (the next offset to
    /// read per partition, i.e. highest + 1), only those that moved forward.
    pub(super) fn release(&mut self, frontier: Epoch) -> Vec<(PartitionKey, i64)> {
        let later = match frontier {
            Epoch::MAX => BTreeMap::new(),
            f => self.pending.split_off(&f),
        };
        let done = std::mem::replace(&mut self.pending, later);
        let mut next: HashMap<PartitionKey, i64> = HashMap::new();
        for (topic, partitions) in done.into_values().flatten() {
            for (partition, offset) in partitions {
                let entry = next.entry((topic.clone(), partition)).or_insert(offset + 1);
                *entry = (*entry).max(offset + 1);
            }
        }
        let mut commit: Vec<(PartitionKey, i64)> = next
            .into_iter()
            .filter(|(key, offset)| self.released.get(key).is_none_or(|seen| offset > seen))
            .collect();
        commit.sort();
        for (key, offset) in &commit {
            self.released.insert(key.clone(), *offset);
        }
        commit
    }

    /// Forgets everything about `revoked` partitions and returns the offsets already
    /// released for them (to commit synchronously before the partitions move). Records of
    /// theirs still in flight will be read again by the new owner: at-least-once.
    pub(super) fn revoke(&mut self, revoked: &[PartitionKey]) -> Vec<(PartitionKey, i64)> {
        for topics in self.pending.values_mut() {
            for (topic, partition) in revoked {
                if let Some(partitions) = topics.get_mut(topic) {
                    partitions.remove(partition);
                }
            }
        }
        revoked
            .iter()
            .filter_map(|key| self.released.remove(key).map(|offset| (key.clone(), offset)))
            .collect()
    }
}
