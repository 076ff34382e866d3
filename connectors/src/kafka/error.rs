//! [`KafkaError`]: everything the Kafka source and sink report to their callers.
//!
//! Broker trouble while a pipeline runs is not an error here: the reader logs it and
//! librdkafka reconnects. These variants are what a caller can act on — a bad configuration,
//! a client that cannot be created, a record the sink cannot key or serialise.

use thiserror::Error;

/// An error of the Kafka source or sink.
#[derive(Debug, Error)]
pub enum KafkaError {
    /// A configuration value is missing or out of range.
    #[error("invalid Kafka configuration: `{field}` {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// librdkafka refused an operation (client creation, subscription, metadata, ...).
    #[error("Kafka client error: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    /// A topic the source was asked to assign does not exist on the cluster.
    #[error("topic `{0}` does not exist")]
    UnknownTopic(String),
    /// The sink could not serialise a record to JSON.
    #[error("cannot serialise the record to JSON: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The record has no `key_field` the sink could use as the message key.
    #[error("the record has no key field `{0}` (or it is not a scalar)")]
    MissingKey(String),
    /// The producer's queue stayed full for the whole send timeout.
    #[error("the producer queue for topic `{0}` stayed full; the broker is not keeping up")]
    QueueFull(String),
}
