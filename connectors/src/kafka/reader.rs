//! One worker's Kafka consumer: polls without blocking, decodes, dead-letters, and commits
//! offsets once the runtime reports the records reached every projection.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::BorrowedMessage;
use serde::de::DeserializeOwned;
use tributary_engine::Epoch;
use tributary_engine::record::{JsonDecoder, MetadataValue};
use tributary_engine::source::{
    KafkaPosition, RejectKind, SourceCheckpoint, SourceOutput, SourcePosition, SourceReader, SourceStatus,
};

use super::context::{BrokerState, SourceContext, partition_list};
use super::offsets::OffsetTracker;

/// Consumer errors (a broker down) repeat on every poll; log one per this interval.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Per topic, per partition: the next offset to read (the last one emitted or dead-lettered,
/// plus one; or where the partition was assigned to start).
pub(super) type Positions = BTreeMap<String, BTreeMap<i32, i64>>;

/// A worker's reader (see the module docs).
pub(super) struct KafkaReader<T> {
    /// Where this reader would resume: its checkpoint for the history manifest.
    pub(super) positions: Positions,
    pub(super) consumer: BaseConsumer<SourceContext>,
    pub(super) decoder: JsonDecoder<T>,
    /// The record field that receives the Kafka timestamp, when configured.
    pub(super) timestamp_field: Option<String>,
    pub(super) offsets: Arc<Mutex<OffsetTracker>>,
    pub(super) errors: ErrorThrottle,
}

impl<T: DeserializeOwned> KafkaReader<T> {
    /// Reports broker connectivity and this worker's consumer lag (its partitions' sum).
    fn report_health(&self, out: &mut SourceOutput<'_, T>) {
        let context = self.consumer.context();
        match context.broker_state() {
            BrokerState::Up => out.report_connected(true),
            BrokerState::Down => out.report_connected(false),
            BrokerState::Unknown => {}
        }
        let lags: Vec<i64> = context
            .lag
            .snapshot()
            .into_iter()
            .filter(|row| row.worker == context.worker)
            .filter_map(|row| row.lag)
            .collect();
        if !lags.is_empty() {
            out.report_lag(lags.iter().map(|l| u64::try_from(*l).unwrap_or(0)).sum());
        }
    }

    fn emit(&self, message: &BorrowedMessage<'_>, out: &mut SourceOutput<'_, T>) {
        let position = || SourcePosition::Kafka {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
        };
        let Some(payload) = message.payload() else {
            out.dead_letter(position(), &[], RejectKind::MalformedJson, "empty message".to_string());
            return;
        };
        let decoded = match (&self.timestamp_field, message.timestamp().to_millis()) {
            (Some(field), Some(ts)) => self.decoder.decode_with(payload, &[(field, MetadataValue::Int(ts))]),
            _ => self.decoder.decode(payload),
        };
        match decoded {
            Ok(record) => out.give(record),
            Err(e) => out.reject(position(), payload, &e),
        }
    }
}

impl<T: DeserializeOwned> SourceReader<T> for KafkaReader<T> {
    fn poll(&mut self, out: &mut SourceOutput<'_, T>, budget: usize) -> SourceStatus {
        self.report_health(out);
        for _ in 0..budget {
            // Never hold the offsets lock here: rebalance callbacks run inside `poll`.
            match self.consumer.poll(Duration::ZERO) {
                None => return SourceStatus::Idle,
                Some(Err(e)) => {
                    self.errors.log(&e);
                    return SourceStatus::Idle;
                }
                Some(Ok(message)) => {
                    self.emit(&message, out);
                    let topic = match self.positions.get_mut(message.topic()) {
                        Some(partitions) => partitions,
                        None => self.positions.entry(message.topic().to_string()).or_default(),
                    };
                    topic.insert(message.partition(), message.offset() + 1);
                    self.offsets.lock().unwrap_or_else(PoisonError::into_inner).record(
                        out.epoch(),
                        message.topic(),
                        message.partition(),
                        message.offset(),
                    );
                }
            }
        }
        SourceStatus::Ready
    }

    fn processed(&mut self, frontier: Epoch) {
        let released = self
            .offsets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .release(frontier);
        let Some(list) = partition_list(&released) else {
            return;
        };
        // At shutdown the commit must land before the consumer closes.
        let mode = if frontier == Epoch::MAX {
            CommitMode::Sync
        } else {
            CommitMode::Async
        };
        if let Err(e) = self.consumer.commit(&list, mode) {
            tracing::warn!(error = %e, ?released, "kafka offset commit failed");
        }
    }

    fn checkpoint(&self) -> Option<SourceCheckpoint> {
        let partitions = self
            .positions
            .iter()
            .flat_map(|(topic, partitions)| {
                partitions.iter().map(|(partition, next)| KafkaPosition {
                    topic: topic.clone(),
                    partition: *partition,
                    next_offset: *next,
                })
            })
            .collect();
        Some(SourceCheckpoint::Kafka { partitions })
    }
}

/// Logs consumer errors at most once per [`ERROR_LOG_INTERVAL`], with how many it skipped.
#[derive(Debug, Default)]
pub(super) struct ErrorThrottle {
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorThrottle {
    fn log(&mut self, error: &rdkafka::error::KafkaError) {
        if self.last.is_some_and(|t| t.elapsed() < ERROR_LOG_INTERVAL) {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(
            error = %error,
            suppressed = self.suppressed,
            "kafka consumer error; librdkafka keeps reconnecting"
        );
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}
