//! Typed configuration of the Kafka source and sink, with documented defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::KafkaError;

/// Where a consumer group starts reading a partition that has no committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartOffsets {
    /// The oldest retained message (`auto.offset.reset = earliest`).
    Earliest,
    /// Only messages produced after the consumer joins (`auto.offset.reset = latest`).
    Latest,
    /// Explicit offsets per partition of the (single) topic; partitions are then assigned
    /// to workers directly (`partition % workers`), without group rebalancing.
    Offsets(BTreeMap<i32, i64>),
}

/// Where a record's event time comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaEventTime {
    /// A field of the JSON payload (the record type decides which).
    Payload,
    /// The Kafka message timestamp, written into this field when the payload lacks it.
    KafkaTimestamp {
        /// The record field that receives the timestamp (epoch milliseconds).
        field: String,
    },
}

/// Configuration of a [`KafkaSource`](super::KafkaSource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KafkaSourceConfig {
    /// Bootstrap servers, `host:port[,host:port]`. Default: `127.0.0.1:9092`.
    pub brokers: String,
    /// Topics to consume. Default: none (must be set).
    pub topics: Vec<String>,
    /// Consumer group id; workers (and processes) of one pipeline share it so partitions are
    /// spread across them. Default: `tributary`.
    pub group_id: String,
    /// Where to start without a committed offset. Default: earliest.
    pub start: StartOffsets,
    /// Where event time comes from. Default: the payload.
    pub event_time: KafkaEventTime,
    /// Records larger than this are dead-lettered as oversized. Default: 1 MiB.
    pub max_record_bytes: usize,
    /// Group session timeout in milliseconds (joins take about half of it). Default: 10,000.
    pub session_timeout_ms: u64,
    /// How often librdkafka reports statistics, from which per-partition lag is read;
    /// `0` turns them (and lag reporting) off. Default: 1,000.
    pub statistics_interval_ms: u64,
    /// Extra librdkafka properties (e.g. `security.protocol`), applied last. Default: none.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaSourceConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_string(),
            topics: Vec::new(),
            group_id: "tributary".to_string(),
            start: StartOffsets::Earliest,
            event_time: KafkaEventTime::Payload,
            max_record_bytes: 1 << 20,
            session_timeout_ms: 10_000,
            statistics_interval_ms: 1_000,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaSourceConfig {
    /// Checks every value is usable; called by [`KafkaSource::try_new`](super::KafkaSource::try_new).
    pub fn validate(&self) -> Result<(), KafkaError> {
        check_brokers(&self.brokers)?;
        if self.topics.is_empty() {
            return invalid("topics", "must name at least one topic");
        }
        if self.topics.iter().any(|t| t.trim().is_empty()) {
            return invalid("topics", "must not contain an empty topic name");
        }
        if self.group_id.trim().is_empty() {
            return invalid("group_id", "must not be empty");
        }
        if self.max_record_bytes == 0 {
            return invalid("max_record_bytes", "must be at least 1");
        }
        // librdkafka's own bounds; the broker may narrow them further.
        if !(1..=3_600_000).contains(&self.session_timeout_ms) {
            return invalid("session_timeout_ms", "must be between 1 and 3,600,000");
        }
        if self.statistics_interval_ms > 86_400_000 {
            return invalid("statistics_interval_ms", "must be at most 86,400,000");
        }
        if let KafkaEventTime::KafkaTimestamp { field } = &self.event_time
            && field.trim().is_empty()
        {
            return invalid("event_time", "needs a field name for the Kafka timestamp");
        }
        if let StartOffsets::Offsets(offsets) = &self.start {
            if self.topics.len() != 1 {
                return invalid("start", "explicit offsets need exactly one topic");
            }
            if offsets.iter().any(|(partition, offset)| *partition < 0 || *offset < 0) {
                return invalid("start", "partitions and offsets must not be negative");
            }
        }
        Ok(())
    }
}

/// Configuration of a [`KafkaSink`](super::KafkaSink).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KafkaSinkConfig {
    /// Bootstrap servers. Default: `127.0.0.1:9092`.
    pub brokers: String,
    /// Topic to produce to. Default: none (must be set).
    pub topic: String,
    /// Field of the record whose value (as text) is the message key; `None`: no key.
    /// Default: none.
    pub key_field: Option<String>,
    /// Extra librdkafka properties, applied last. Default: `acks=all`, idempotence on.
    pub properties: BTreeMap<String, String>,
}

impl KafkaSinkConfig {
    /// Checks every value is usable; called by [`KafkaSink::try_new`](super::KafkaSink::try_new).
    pub fn validate(&self) -> Result<(), KafkaError> {
        check_brokers(&self.brokers)?;
        if self.topic.trim().is_empty() {
            return invalid("topic", "must not be empty");
        }
        if self.key_field.as_ref().is_some_and(|f| f.trim().is_empty()) {
            return invalid("key_field", "must not be empty when set");
        }
        Ok(())
    }
}

impl Default for KafkaSinkConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_string(),
            topic: String::new(),
            key_field: None,
            properties: BTreeMap::new(),
        }
    }
}

fn check_brokers(brokers: &str) -> Result<(), KafkaError> {
    if brokers.split(',').any(|b| b.trim().is_empty()) {
        return invalid("brokers", "must be a list of host:port without empty entries");
    }
    Ok(())
}

fn invalid(field: &'static str, reason: &str) -> Result<(), KafkaError> {
    Err(KafkaError::InvalidConfig {
        field,
        reason: reason.to_string(),
    })
}
