//! [`MqttSource`]: the MQTT subscription as a [`Source`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rumqttc::{Client, Publish, QoS, SubscribeFilter};
use serde::de::DeserializeOwned;
use tributary_engine::EngineError;
use tributary_engine::record::JsonDecoder;
use tributary_engine::source::{Source, SourceCheckpoint, SourceReader, WorkerInfo};

use super::connection::{Endpoint, NetworkHandler, spawn_network_thread, tls_config};
use super::reader::{IdleReader, MqttReader};
use super::topic::TopicPattern;
use super::{MqttError, MqttSourceConfig};

/// A source of `T` records decoded from the JSON messages of MQTT topic filters (see the
/// [module docs](super)).
pub struct MqttSource<T> {
    config: MqttSourceConfig,
    pattern: Option<Arc<TopicPattern>>,
    tls: Option<Arc<rustls::ClientConfig>>,
    subscribed: Arc<AtomicBool>,
    _record: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for MqttSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSource").field("config", &self.config).finish()
    }
}

impl<T> MqttSource<T> {
    /// Validates the configuration (topic filters, `key_from_topic`, TLS files) and builds
    /// the source. Nothing connects until a worker opens it.
    pub fn try_new(config: MqttSourceConfig) -> Result<Self, MqttError> {
        config.validate()?;
        let pattern = config
            .key_from_topic
            .as_deref()
            .map(TopicPattern::parse)
            .transpose()?
            .map(Arc::new);
        let tls = config.tls.as_ref().map(tls_config).transpose()?;
        Ok(Self {
            config,
            pattern,
            tls,
            subscribed: Arc::new(AtomicBool::new(false)),
            _record: PhantomData,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MqttSourceConfig {
        &self.config
    }

    /// Whether the broker has granted the subscriptions on the current connection (or kept
    /// them in the session): from then on every message published to the filters reaches
    /// this source. For readiness checks, and for tests that must not publish too early.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    fn connect(&self) -> Result<(Client, std::sync::mpsc::Receiver<Publish>, Arc<AtomicBool>), MqttError> {
        let c = &self.config;
        let endpoint = Endpoint {
            host: &c.host,
            port: c.port,
            client_id: &c.client_id,
            credentials: c.credentials.as_ref(),
            tls: self.tls.as_ref(),
            keep_alive_s: c.keep_alive_s,
        };
        let mut options = endpoint.options(c.persistent_session);
        options.set_manual_acks(true);
        let (client, connection) = Client::new(options, c.buffer);
        let (forward, messages) = sync_channel(c.buffer);
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Subscriber {
            client: client.clone(),
            filters: c.topics.clone(),
            forward,
            subscribed_once: false,
            subscribed: self.subscribed.clone(),
        };
        spawn_network_thread(
            format!("mqtt-source-{}", c.client_id),
            connection,
            stop.clone(),
            handler,
        )?;
        Ok((client, messages, stop))
    }
}

impl<T: DeserializeOwned + Send + 'static> Source<T> for MqttSource<T> {
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "mqtt({}:{}, topics={:?}, client_id={}, tls={})",
            c.host,
            c.port,
            c.topics,
            c.client_id,
            c.tls.is_some()
        )
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<T>>, EngineError> {
        self.open_at(worker, 0)
    }

    /// Continues the ingest sequence after the one history recorded, so positions in the
    /// dead-letter queue and history never repeat across restarts. The broker's persistent
    /// session redelivers what was not acknowledged; acknowledgements wait for history, so
    /// only a crash between a file's commit and its acknowledgements repeats messages.
    fn open_resuming(
        &self,
        worker: WorkerInfo,
        resume: Option<&SourceCheckpoint>,
    ) -> Result<Box<dyn SourceReader<T>>, EngineError> {
        let next = match resume {
            Some(SourceCheckpoint::Sequence { next }) => *next,
            _ => 0,
        };
        self.open_at(worker, next)
    }
}

impl<T: DeserializeOwned + Send + 'static> MqttSource<T> {
    /// Opens worker 0's session reader, numbering messages from `sequence`; other workers
    /// get an idle reader.
    fn open_at(&self, worker: WorkerInfo, sequence: u64) -> Result<Box<dyn SourceReader<T>>, EngineError> {
        if worker.index != 0 {
            return Ok(Box::new(IdleReader));
        }
        let (client, messages, stop) = self.connect().map_err(|e| EngineError::Source {
            source_name: "mqtt".into(),
            reason: e.to_string(),
        })?;
        let decoder = JsonDecoder::new(self.config.max_record_bytes);
        Ok(Box::new(
            MqttReader::new(
                client,
                messages,
                decoder,
                self.pattern.clone(),
                stop,
                self.subscribed.clone(),
            )
            .starting_at(sequence),
        ))
    }
}

/// The source's side of the network thread: subscribe on connect, forward every message.
struct Subscriber {
    client: Client,
    filters: Vec<String>,
    forward: SyncSender<Publish>,
    /// Whether this process subscribed yet: the first connection always subscribes, even to
    /// a present session, in case the configured filters changed.
    subscribed_once: bool,
    /// Shared with [`MqttSource::is_subscribed`].
    subscribed: Arc<AtomicBool>,
}

impl NetworkHandler for Subscriber {
    fn connected(&mut self, session_present: bool) {
        if session_present && self.subscribed_once {
            self.subscribed.store(true, Ordering::Release);
            return;
        }
        let filters = self
            .filters
            .iter()
            .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
        match self.client.try_subscribe_many(filters) {
            Ok(()) => self.subscribed_once = true,
            Err(error) => tracing::error!(%error, "cannot queue the MQTT subscription"),
        }
    }

    fn subscription_answered(&mut self, granted: bool) {
        self.subscribed.store(granted, Ordering::Release);
    }

    fn disconnected(&mut self) {
        self.subscribed.store(false, Ordering::Release);
    }

    fn publish(&mut self, publish: Publish, stop: &AtomicBool) -> bool {
        let mut publish = publish;
        loop {
            match self.forward.try_send(publish) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if stop.load(Ordering::Acquire) {
                        return false;
                    }
                    publish = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}
