//! Typed configuration of the MQTT source and sink, with documented defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::MqttError;

/// TLS to the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttTls {
    /// PEM file with the CA certificate(s) to trust.
    pub ca_file: PathBuf,
    /// PEM client certificate and key for mutual TLS. Default: none.
    #[serde(default)]
    pub client_auth: Option<(PathBuf, PathBuf)>,
}

/// Configuration of an [`MqttSource`](super::MqttSource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MqttSourceConfig {
    /// Broker host. Default: `127.0.0.1`.
    pub host: String,
    /// Broker port. Default: 1883.
    pub port: u16,
    /// Topic filters to subscribe to, with `+`/`#` wildcards. Default: none (must be set).
    pub topics: Vec<String>,
    /// Fixed client id, so the broker keeps the persistent session (and the QoS 1 messages
    /// published while Tributary is disconnected) across reconnects. Default: `tributary`.
    pub client_id: String,
    /// Keep the session across disconnects (`clean_session = false`). Default: true.
    pub persistent_session: bool,
    /// A topic pattern such as `sensors/{sensor_id}/reading`: each `{field}` level becomes
    /// that field of the record when the payload lacks it (numbers as numbers). Default: none.
    pub key_from_topic: Option<String>,
    /// Username and password. Default: none.
    pub credentials: Option<(String, String)>,
    /// TLS settings; `None`: plain TCP. Default: none.
    pub tls: Option<MqttTls>,
    /// Keep-alive interval in seconds. Default: 30.
    pub keep_alive_s: u64,
    /// Records larger than this are dead-lettered as oversized. Default: 1 MiB.
    pub max_record_bytes: usize,
    /// Messages buffered between the network thread and the dataflow; when full the network
    /// thread stops reading and the broker holds the rest. Default: 65,536.
    pub buffer: usize,
}

impl Default for MqttSourceConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_string(),
            port: 1883,
            topics: Vec::new(),
            client_id: "tributary".to_string(),
            persistent_session: true,
            key_from_topic: None,
            credentials: None,
            tls: None,
            keep_alive_s: 30,
            max_record_bytes: 1 << 20,
            buffer: 65_536,
        }
    }
}

/// Configuration of an [`MqttSink`](super::MqttSink).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MqttSinkConfig {
    /// Broker host. Default: `127.0.0.1`.
    pub host: String,
    /// Broker port. Default: 1883.
    pub port: u16,
    /// Topic template: `{field}` is replaced by that field of the record, e.g.
    /// `alerts/{sensor_id}`. Default: none (must be set).
    pub topic: String,
    /// Client id. Default: `tributary-sink`.
    pub client_id: String,
    /// Username and password. Default: none.
    pub credentials: Option<(String, String)>,
    /// TLS settings. Default: none.
    pub tls: Option<MqttTls>,
}

impl Default for MqttSinkConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_string(),
            port: 1883,
            topic: String::new(),
            client_id: "tributary-sink".to_string(),
            credentials: None,
            tls: None,
        }
    }
}

impl MqttSourceConfig {
    /// Checks every value is usable: a host, a port, at least one valid topic filter, a
    /// client id (the broker keys the persistent session by it), a positive buffer and limit.
    pub fn validate(&self) -> Result<(), MqttError> {
        validate_endpoint(&self.host, self.port, &self.client_id)?;
        if self.topics.is_empty() {
            return invalid("topics", "must name at least one topic filter");
        }
        if let Some(bad) = self.topics.iter().find(|t| !rumqttc::valid_filter(t)) {
            return invalid("topics", &format!("contains the invalid filter {bad:?}"));
        }
        if self.max_record_bytes == 0 {
            return invalid("max_record_bytes", "must be at least 1");
        }
        if self.buffer == 0 {
            return invalid("buffer", "must be at least 1");
        }
        Ok(())
    }
}

impl MqttSinkConfig {
    /// Checks every value is usable: a host, a port, a client id and a topic template.
    pub fn validate(&self) -> Result<(), MqttError> {
        validate_endpoint(&self.host, self.port, &self.client_id)?;
        if self.topic.is_empty() {
            return invalid("topic", "must be set");
        }
        Ok(())
    }
}

fn validate_endpoint(host: &str, port: u16, client_id: &str) -> Result<(), MqttError> {
    if host.is_empty() {
        return invalid("host", "must be set");
    }
    if port == 0 {
        return invalid("port", "must not be 0");
    }
    if client_id.is_empty() {
        return invalid("client_id", "must be set");
    }
    Ok(())
}

fn invalid(field: &'static str, reason: &str) -> Result<(), MqttError> {
    Err(MqttError::InvalidConfig {
        field,
        reason: reason.to_string(),
    })
}
