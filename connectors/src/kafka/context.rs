//! The consumer context: librdkafka's callbacks for statistics (lag), rebalances (commit
//! and forget revoked partitions) and commit results (logged).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;

use super::lag::PartitionLag;
use super::offsets::{OffsetTracker, PartitionKey};

/// Callbacks of one worker's consumer.
#[derive(Debug)]
pub(super) struct SourceContext {
    /// The worker this consumer serves (its rows in `lag`, its logs).
    pub(super) worker: usize,
    pub(super) lag: Arc<PartitionLag>,
    pub(super) offsets: Arc<Mutex<OffsetTracker>>,
    /// Broker connectivity as librdkafka last told it (see [`BrokerState`]).
    pub(super) brokers: AtomicU8,
}

/// What [`SourceContext::brokers`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BrokerState {
    /// No statistics or broker error yet.
    Unknown = 0,
    /// At least one broker connection is up.
    Up = 1,
    /// No broker connection is up.
    Down = 2,
}

impl SourceContext {
    /// The broker connectivity last reported by librdkafka.
    pub(super) fn broker_state(&self) -> BrokerState {
        match self.brokers.load(Ordering::Relaxed) {
            1 => BrokerState::Up,
            2 => BrokerState::Down,
            _ => BrokerState::Unknown,
        }
    }

    /// Records the broker connectivity.
    pub(super) fn set_broker_state(&self, state: BrokerState) {
        self.brokers.store(state as u8, Ordering::Relaxed);
    }
}

impl ClientContext for SourceContext {
    fn stats(&self, statistics: Statistics) {
        self.lag.report(self.worker, &statistics);
        let up = statistics.brokers.values().any(|b| b.state == "UP");
        self.set_broker_state(if up { BrokerState::Up } else { BrokerState::Down });
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.set_broker_state(BrokerState::Down);
        }
        tracing::warn!(worker = self.worker, %error, reason, "librdkafka error");
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(partitions) => {
                let revoked: Vec<PartitionKey> = partitions
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                tracing::info!(worker = self.worker, ?revoked, "kafka partitions revoked");
                let released = self
                    .offsets
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .revoke(&revoked);
                // Make the asynchronous commits of processed offsets durable before another
                // consumer starts from the group's committed offsets.
                if let Some(list) = partition_list(&released)
                    && let Err(e) = consumer.commit(&list, CommitMode::Sync)
                {
                    tracing::warn!(worker = self.worker, error = %e, "kafka commit on revoke failed");
                }
            }
            Rebalance::Assign(partitions) => {
                let assigned: Vec<PartitionKey> = partitions
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                tracing::info!(worker = self.worker, ?assigned, "kafka partitions assigned");
            }
            Rebalance::Error(e) => {
                tracing::warn!(worker = self.worker, error = %e, "kafka rebalance failed");
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(worker = self.worker, error = %e, ?offsets, "kafka offset commit failed");
        }
    }
}

/// A partition list with the given next offsets; `None` when there is nothing to commit.
pub(super) fn partition_list(offsets: &[(PartitionKey, i64)]) -> Option<TopicPartitionList> {
    if offsets.is_empty() {
        return None;
    }
    let mut list = TopicPartitionList::with_capacity(offsets.len());
    for ((topic, partition), offset) in offsets {
        // Only fails for a logical offset librdkafka does not know; ours are plain offsets.
        if let Err(e) = list.add_partition_offset(topic, *partition, rdkafka::Offset::Offset(*offset)) {
            tracing::warn!(topic, partition, offset, error = %e, "cannot add a kafka offset to commit");
        }
    }
    Some(list)
}
