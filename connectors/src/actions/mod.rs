//! What every action sink shares: the [`DeliveryContext`] it records into, and the
//! bookkeeping that keeps the delivery counters reconciled and every give-up dead-lettered.
//!
//! The sinks: [`crate::webhook::WebhookSink`] (HTTP POST with retries and a circuit
//! breaker), and [`BrokerActionSink`]s for a Kafka topic ([`kafka_action_sink`]) or an MQTT
//! topic ([`mqtt_action_sink`]) built on the existing producers. Each implements the engine's
//! [`ActionSink`](tributary_engine::delivery::ActionSink): `submit` only reserves a slot in a
//! bounded queue, and a delivery thread of the sink's own does the I/O.

mod broker;
mod kafka;
mod mqtt;
#[cfg(test)]
mod mqtt_tests;
mod recorder;
#[cfg(test)]
mod tests;

pub use broker::{BrokerActionSink, BrokerQueueConfig, BrokerSinkError};
pub use kafka::kafka_action_sink;
pub use mqtt::mqtt_action_sink;
pub use recorder::DeliveryContext;
pub(crate) use recorder::{Attempted, Pending, Recorder};
