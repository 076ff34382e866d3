//! MQTT: a subscription source and a publish sink (rumqttc).
//!
//! # Source
//!
//! [`MqttSource`] subscribes at QoS 1 to every configured topic filter (`+`/`#` wildcards)
//! and decodes each message as one JSON record with the engine's
//! [`JsonDecoder`](tributary_engine::record::JsonDecoder). With `key_from_topic`
//! (`sensors/{sensor_id}/reading`) the named topic levels become record fields when the
//! payload lacks them. Records that do not decode go to the dead-letter queue with their raw
//! bytes and a [`SourcePosition::Mqtt`](tributary_engine::source::SourcePosition) (topic and
//! this source's ingest sequence).
//!
//! **One session per source.** A broker keys a persistent session by client id and allows
//! one connection per id, so only the reader of worker 0 connects; the other workers' readers
//! stay idle (and never finish: MQTT is unbounded). The dataflow's own exchange spreads the
//! records by key to every worker downstream, so the single reader costs only the decode.
//! Open a source once per pipeline: two sources with one client id would take the session
//! from each other.
//!
//! **Delivery: at-least-once.** The client uses manual acknowledgements. A network thread
//! forwards each message through a bounded channel (`buffer`; when it is full the thread
//! stops reading and the broker holds the rest); the reader acknowledges a message only when
//! the runtime reports its epoch processed — it reached every projection. With the default
//! persistent session (`clean_session = false`, fixed `client_id`) the broker keeps the
//! unacknowledged messages, and those published while Tributary was disconnected, and delivers
//! them on reconnect. A message whose acknowledgement was lost in a disconnect is delivered
//! again, so a record can be counted twice after a broker or network failure; none is lost
//! as long as the broker keeps the session (Mosquitto: `persistence true` to survive its own
//! restart; `max_queued_messages` bounds what it holds for a disconnected client and drops
//! the excess).
//!
//! The connection thread reconnects with exponential backoff (100 ms up to 5 s), logging
//! errors at most every 10 s, and subscribes again when the broker did not keep the session.
//! TLS uses rustls with the `ring` provider, from PEM files ([`MqttTls`]).
//!
//! # Sink
//!
//! [`MqttSink`] publishes records as JSON at QoS 1 to a topic template whose `{field}`s are
//! filled from the record.

mod config;
mod connection;
mod error;
mod reader;
mod sink;
mod source;
mod topic;

#[cfg(test)]
pub(crate) mod tests;

pub use config::{MqttSinkConfig, MqttSourceConfig, MqttTls};
pub use error::MqttError;
pub use sink::MqttSink;
pub use source::MqttSource;
pub use topic::{TopicPattern, TopicTemplate};
