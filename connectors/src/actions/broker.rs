//! [`BrokerActionSink`]: actions published to a broker topic (Kafka, MQTT) from a delivery
//! thread of their own, behind a bounded queue.
//!
//! The broker clients already retry on their own (librdkafka until `message.timeout.ms`,
//! rumqttc by republishing in its persistent session), so a broker sink makes **one attempt**
//! per action: publish, then wait for the broker's acknowledgement. Acknowledged is
//! delivered; anything else is dead-lettered with the client's error. As for webhooks, a full
//! queue dead-letters the action at once, so the dataflow never waits for a broker.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tributary_engine::delivery::{ActionRecord, ActionSink, DeliveryOutcome};

use super::{Attempted, DeliveryContext, Pending, Recorder};

/// The queue in front of a broker sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerQueueConfig {
    /// Actions waiting to be published; when full a new action is dead-lettered at once.
    /// Default 1,024; at least 1.
    pub queue_capacity: usize,
}

impl Default for BrokerQueueConfig {
    fn default() -> Self {
        Self { queue_capacity: 1_024 }
    }
}

/// Why a broker action sink could not start.
#[derive(Debug, Error)]
pub enum BrokerSinkError {
    /// The Kafka producer could not be created.
    #[error(transparent)]
    Kafka(#[from] crate::kafka::KafkaError),
    /// The MQTT client could not be created.
    #[error(transparent)]
    Mqtt(#[from] crate::mqtt::MqttError),
    /// The delivery thread could not start.
    #[error("cannot start the action delivery thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A broker client that publishes one action and waits for its acknowledgement.
pub(crate) trait Publisher: Send + 'static {
    /// Publishes `action`'s payload; `Err` says why it is not acknowledged.
    fn publish(&mut self, action: &ActionRecord) -> Result<(), String>;
}

/// Delivers actions to a Kafka or MQTT topic (see the module docs). Built by
/// [`kafka_action_sink`](super::kafka_action_sink) or [`mqtt_action_sink`](super::mqtt_action_sink).
pub struct BrokerActionSink {
    capacity: usize,
    queue: Mutex<Option<SyncSender<Pending>>>,
    recorder: Arc<Recorder>,
    outstanding: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for BrokerActionSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerActionSink")
            .field("recorder", &self.recorder)
            .field("outstanding", &self.outstanding())
            .finish_non_exhaustive()
    }
}

impl BrokerActionSink {
    /// Starts the delivery thread for `publisher`; records as `sink` (`kafka`, `mqtt`) to
    /// `endpoint` (the topic).
    pub(crate) fn start(
        publisher: impl Publisher,
        sink: &'static str,
        endpoint: String,
        queue: &BrokerQueueConfig,
        context: DeliveryContext,
    ) -> std::io::Result<Self> {
        let capacity = queue.queue_capacity.max(1);
        let (sender, receiver) = sync_channel(capacity);
        let recorder = Arc::new(Recorder::new(context, sink, endpoint));
        let outstanding = Arc::new(AtomicU64::new(0));
        let (r, o) = (recorder.clone(), outstanding.clone());
        let thread = std::thread::Builder::new()
            .name(format!("{sink}-actions"))
            .spawn(move || run(publisher, &receiver, &r, &o))?;
        Ok(Self {
            capacity,
            queue: Mutex::new(Some(sender)),
            recorder,
            outstanding,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Actions accepted and not finished yet.
    pub fn outstanding(&self) -> u64 {
        self.outstanding.load(Ordering::Acquire)
    }

    /// Stops accepting actions and waits until the queued ones are published (or failed).
    /// Idempotent; later submissions are dead-lettered at once.
    pub fn close(&self) {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).take();
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("a broker action delivery thread panicked");
        }
    }
}

impl Drop for BrokerActionSink {
    fn drop(&mut self) {
        self.close();
    }
}

impl ActionSink for BrokerActionSink {
    fn submit(&self, action: ActionRecord) {
        let pending = Pending::now(action);
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queue.as_ref() else {
            self.recorder.log().enqueued();
            self.recorder.refuse(&pending, "the sink is closed".to_string());
            return;
        };
        // Counted before sending so the thread never takes an action the log has not seen.
        self.recorder.log().enqueued();
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        let (pending, reason) = match queue.try_send(pending) {
            Ok(()) => return,
            Err(TrySendError::Full(p)) => (p, format!("delivery queue full ({} actions waiting)", self.capacity)),
            Err(TrySendError::Disconnected(p)) => (p, "the delivery thread has stopped".to_string()),
        };
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
        self.recorder.refuse(&pending, reason);
    }
}

fn run(mut publisher: impl Publisher, queue: &Receiver<Pending>, recorder: &Recorder, outstanding: &AtomicU64) {
    while let Ok(pending) = queue.recv() {
        recorder.log().started();
        recorder.log().attempted();
        let result = publisher.publish(&pending.action);
        let (outcome, error) = match result {
            Ok(()) => (DeliveryOutcome::Delivered, None),
            Err(e) => (DeliveryOutcome::DeadLettered, Some(e)),
        };
        let attempted = Attempted {
            attempts: 1,
            http_status: None,
            error,
        };
        recorder.finish(&pending, outcome, &attempted);
        outstanding.fetch_sub(1, Ordering::AcqRel);
    }
}
