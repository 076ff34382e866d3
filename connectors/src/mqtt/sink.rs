//! [`MqttSink`]: publishes records as JSON at QoS 1 to a topic filled from their fields.
//!
//! The sink keeps a persistent session (`clean_session = false`) under its client id: rumqttc
//! republishes unacknowledged messages after a reconnect only when the broker still has the
//! session, so a clean session would drop them. [`flush`](MqttSink::flush) waits until the
//! broker has acknowledged every message sent so far.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{Client, QoS};
use serde::Serialize;
use serde_json::{Map, Value};
use tributary_engine::record::json_kind;

use super::connection::{Endpoint, NetworkHandler, spawn_network_thread, tls_config};
use super::topic::TopicTemplate;
use super::{MqttError, MqttSinkConfig};

/// How long [`MqttSink::flush`] waits for acknowledgements.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests (publishes) queued for the network thread before `send` waits.
const REQUEST_CAPACITY: usize = 1024;
/// The sink's keep-alive interval in seconds.
const KEEP_ALIVE_S: u64 = 30;

/// Publishes `T` records to MQTT (see the module docs).
pub struct MqttSink<T> {
    client: Client,
    template: TopicTemplate,
    sent: u64,
    acknowledged: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    _record: PhantomData<fn(&T)>,
}

impl<T> fmt::Debug for MqttSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSink")
            .field("template", &self.template)
            .field("sent", &self.sent)
            .field("acknowledged", &self.acknowledged.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T: Serialize> MqttSink<T> {
    /// Validates the configuration, and starts the connection thread.
    pub fn try_new(config: MqttSinkConfig) -> Result<Self, MqttError> {
        config.validate()?;
        let template = TopicTemplate::parse(&config.topic)?;
        let tls = config.tls.as_ref().map(tls_config).transpose()?;
        let endpoint = Endpoint {
            host: &config.host,
            port: config.port,
            client_id: &config.client_id,
            credentials: config.credentials.as_ref(),
            tls: tls.as_ref(),
            keep_alive_s: KEEP_ALIVE_S,
        };
        let (client, connection) = Client::new(endpoint.options(true), REQUEST_CAPACITY);
        let acknowledged = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let counter = AckCounter(acknowledged.clone());
        spawn_network_thread(
            format!("mqtt-sink-{}", config.client_id),
            connection,
            stop.clone(),
            counter,
        )?;
        Ok(Self {
            client,
            template,
            sent: 0,
            acknowledged,
            stop,
            _record: PhantomData,
        })
    }

    /// Publishes `record` as JSON at QoS 1 to its topic. Waits only when the connection's
    /// request queue is full; [`flush`](Self::flush) waits for the broker's acknowledgements.
    pub fn send(&mut self, record: &T) -> Result<(), MqttError> {
        let value = serde_json::to_value(record)?;
        let topic = match &value {
            Value::Object(object) => self.template.render(object)?,
            _ if !self.template.has_fields() => self.template.render(&Map::new())?,
            other => return Err(MqttError::NotAnObject(json_kind(other))),
        };
        let payload = serde_json::to_vec(&value)?;
        self.client.publish(topic, QoS::AtLeastOnce, false, payload)?;
        self.sent += 1;
        Ok(())
    }

    /// Waits until the broker acknowledged every message sent so far (at most 30 s).
    pub fn flush(&mut self) -> Result<(), MqttError> {
        let started = Instant::now();
        loop {
            let acknowledged = self.acknowledged.load(Ordering::Acquire);
            if acknowledged >= self.sent {
                return Ok(());
            }
            if started.elapsed() >= FLUSH_TIMEOUT {
                return Err(MqttError::FlushTimeout {
                    unacknowledged: self.sent - acknowledged,
                    waited_s: FLUSH_TIMEOUT.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Flushes, then disconnects from the broker.
    pub fn close(mut self) -> Result<(), MqttError> {
        self.flush()?;
        self.stop.store(true, Ordering::Release);
        self.client.disconnect()?;
        Ok(())
    }
}

impl<T> Drop for MqttSink<T> {
    fn drop(&mut self) {
        if !self.stop.swap(true, Ordering::AcqRel) && self.client.try_disconnect().is_err() {
            tracing::debug!("MQTT sink connection already closed");
        }
    }
}

/// The sink's side of the network thread: count the broker's acknowledgements.
struct AckCounter(Arc<AtomicU64>);

impl NetworkHandler for AckCounter {
    fn connected(&mut self, _session_present: bool) {}

    fn acknowledged(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}
