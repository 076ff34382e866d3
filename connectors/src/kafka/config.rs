//! Typed configuration of the Kafka source and sink, with documented defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
            properties: BTreeMap::new(),
        }
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
