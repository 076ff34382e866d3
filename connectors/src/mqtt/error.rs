//! [`MqttError`]: everything that can go wrong building or using the MQTT source and sink.
//!
//! Broker trouble at run time (a refused connection, a dropped socket) is not an error the
//! caller sees: the network threads log it and reconnect. What surfaces here is what the
//! caller can fix — a bad configuration, an unreadable certificate, a record the sink cannot
//! route — or a sink that could not hand a message to its connection.

use std::path::PathBuf;

/// An error of the MQTT connector.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// A configuration value is out of range or missing.
    #[error("invalid MQTT configuration: `{field}` {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A topic pattern (`key_from_topic`) or sink topic template is malformed.
    #[error("invalid topic pattern `{pattern}`: {reason}")]
    InvalidPattern {
        /// The pattern as configured.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS file could not be read.
    #[error("cannot read TLS file {}: {source}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read or parsed.
        source: rustls::pki_types::pem::Error,
    },
    /// A TLS file holds no certificate or key.
    #[error("TLS file {} holds no {what}", path.display())]
    TlsFileEmpty {
        /// The file.
        path: PathBuf,
        /// What was expected in it.
        what: &'static str,
    },
    /// rustls refused the TLS settings (a bad CA certificate, a key that does not match).
    #[error("invalid TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    /// The network thread could not be started.
    #[error("cannot start the MQTT network thread: {0}")]
    Spawn(std::io::Error),
    /// The record could not be serialised to JSON.
    #[error("cannot serialise the record to JSON: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The sink's topic template names a field the record lacks.
    #[error("the record has no field `{field}` for the topic template `{template}`")]
    MissingTopicField {
        /// The field the template names.
        field: String,
        /// The template.
        template: String,
    },
    /// The field the topic template names is not a string, number or boolean.
    #[error("field `{field}` is {kind}; a topic level needs a string, number or boolean")]
    TopicFieldNotScalar {
        /// The field.
        field: String,
        /// What it is instead.
        kind: &'static str,
    },
    /// The field's value cannot be a topic level (empty, or contains `/`, `+`, `#`).
    #[error("field `{field}` = {value:?} cannot be a topic level (empty, or contains `/`, `+` or `#`)")]
    InvalidTopicLevel {
        /// The field.
        field: String,
        /// Its value.
        value: String,
    },
    /// The sink routes by field but the record does not serialise to a JSON object.
    #[error("the record serialises to {0}, not an object: a topic template with fields needs an object")]
    NotAnObject(&'static str),
    /// The client could not queue a request for its connection (it was closed).
    #[error("MQTT client request failed: {0}")]
    Client(#[from] rumqttc::ClientError),
    /// `flush` waited too long for the broker to acknowledge the published messages.
    #[error("{unacknowledged} published message(s) not acknowledged by the broker after {waited_s} s")]
    FlushTimeout {
        /// Messages still unacknowledged.
        unacknowledged: u64,
        /// How long `flush` waited.
        waited_s: u64,
    },
}
