//! [`KafkaSink`]: produces records as JSON messages, keyed by one of their fields.
//!
//! Built on rdkafka's `ThreadedProducer`: `send` only enqueues into librdkafka's buffer and
//! returns, and a background thread polls for delivery reports, so the caller (a dataflow
//! operator, an HTTP handler) never waits for the broker. Only when that buffer is full does
//! `send` wait, for at most [`SEND_TIMEOUT`], before giving up with
//! [`KafkaError::QueueFull`]. A `FutureProducer` would need an async runtime for a result
//! nobody awaits; delivery failures are counted and logged instead (retries and a
//! dead-letter path for actions come later).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use serde::Serialize;
use serde_json::Value;

use super::{KafkaError, KafkaSinkConfig};

/// The longest `send` waits for room in a full producer queue.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// A JSON producer to one topic (see the module docs).
pub struct KafkaSink<T> {
    config: KafkaSinkConfig,
    producer: ThreadedProducer<DeliveryCounter>,
    _record: PhantomData<fn(&T)>,
}

impl<T> std::fmt::Debug for KafkaSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<T: Serialize> KafkaSink<T> {
    /// Validates the configuration and creates the producer (`acks=all`, idempotent, unless
    /// `properties` says otherwise).
    pub fn try_new(config: KafkaSinkConfig) -> Result<Self, KafkaError> {
        config.validate()?;
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &config.brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true");
        for (key, value) in &config.properties {
            client.set(key, value);
        }
        let producer = client.create_with_context(DeliveryCounter::default())?;
        Ok(Self {
            config,
            producer,
            _record: PhantomData,
        })
    }

    /// Enqueues `record` as a JSON message, keyed by its `key_field` as text.
    pub fn send(&self, record: &T) -> Result<(), KafkaError> {
        let key = match &self.config.key_field {
            Some(field) => Some(key_text(&serde_json::to_value(record)?, field)?),
            None => None,
        };
        let payload = serde_json::to_vec(record)?;
        let mut message = BaseRecord::to(&self.config.topic).payload(&payload);
        if let Some(key) = &key {
            message = message.key(key);
        }
        let deadline = Instant::now() + SEND_TIMEOUT;
        loop {
            match self.producer.send(message) {
                Ok(()) => return Ok(()),
                Err((rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if Instant::now() < deadline =>
                {
                    message = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    return Err(KafkaError::QueueFull(self.config.topic.clone()));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }

    /// Waits up to `timeout` for every enqueued message to be delivered (or to fail).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        Ok(self.producer.flush(timeout)?)
    }

    /// Messages the broker acknowledged so far.
    pub fn delivered(&self) -> u64 {
        self.producer.context().delivered.load(Ordering::Relaxed)
    }

    /// Messages that could not be delivered so far (each one logged).
    pub fn delivery_failures(&self) -> u64 {
        self.producer.context().failed.load(Ordering::Relaxed)
    }
}

/// The key field's value as text: strings as they are, numbers and booleans as JSON.
fn key_text(record: &Value, field: &str) -> Result<String, KafkaError> {
    match record.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
        _ => Err(KafkaError::MissingKey(field.to_string())),
    }
}

/// Counts delivery reports and logs failures.
#[derive(Debug, Default)]
struct DeliveryCounter {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, message)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    error = %e,
                    topic = message.topic(),
                    partition = message.partition(),
                    "kafka delivery failed"
                );
            }
        }
    }
}
