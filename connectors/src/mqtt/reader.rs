//! The reader of the worker that owns the MQTT session: decodes what the network thread
//! forwards, and acknowledges each QoS 1 message only once its epoch has reached every
//! projection.
//!
//! Acknowledgements go to the network thread through the client's request channel with
//! `try_ack`, never a blocking send: the network thread may itself be waiting for this reader
//! to drain the message buffer, and a worker must never block. An acknowledgement that finds
//! the channel full waits in a backlog and is retried on the next poll, in order.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use rumqttc::{Client, Publish, QoS};
use serde::de::DeserializeOwned;
use tributary_engine::Epoch;
use tributary_engine::record::JsonDecoder;
use tributary_engine::source::{SourceCheckpoint, SourceOutput, SourcePosition, SourceReader, SourceStatus};

use super::topic::TopicPattern;

/// How long dropping the reader keeps retrying acknowledgements the channel had no room for.
const DROP_ACK_GRACE: Duration = Duration::from_secs(1);

/// Reads the source's one MQTT session (see the module docs).
pub(super) struct MqttReader<T> {
    client: Client,
    messages: Receiver<Publish>,
    decoder: JsonDecoder<T>,
    pattern: Option<Arc<TopicPattern>>,
    /// Ingest sequence of the next message (its [`SourcePosition::Mqtt`]).
    sequence: u64,
    /// QoS 1 messages emitted but not yet acknowledged, with their epoch, oldest first.
    unacked: VecDeque<(Epoch, Publish)>,
    /// Acknowledgements due that the request channel had no room for, oldest first.
    ack_backlog: VecDeque<Publish>,
    stop: Arc<AtomicBool>,
    /// Whether the session is connected and subscribed (the source's flag), reported as
    /// this reader's connectivity.
    subscribed: Arc<AtomicBool>,
    network_gone_logged: bool,
}

impl<T> fmt::Debug for MqttReader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttReader")
            .field("sequence", &self.sequence)
            .field("unacked", &self.unacked.len())
            .field("ack_backlog", &self.ack_backlog.len())
            .finish()
    }
}

impl<T: DeserializeOwned> MqttReader<T> {
    pub(super) fn new(
        client: Client,
        messages: Receiver<Publish>,
        decoder: JsonDecoder<T>,
        pattern: Option<Arc<TopicPattern>>,
        stop: Arc<AtomicBool>,
        subscribed: Arc<AtomicBool>,
    ) -> Self {
        Self {
            client,
            messages,
            decoder,
            pattern,
            sequence: 0,
            unacked: VecDeque::new(),
            ack_backlog: VecDeque::new(),
            stop,
            subscribed,
            network_gone_logged: false,
        }
    }

    /// Numbers messages from `sequence` on (resuming after history).
    pub(super) fn starting_at(mut self, sequence: u64) -> Self {
        self.sequence = sequence;
        self
    }

    /// Decodes one message into `out` (or the dead-letter queue) and remembers its ack.
    fn ingest(&mut self, publish: Publish, out: &mut SourceOutput<'_, T>) {
        let sequence = self.sequence;
        self.sequence += 1;
        let metadata = self
            .pattern
            .as_deref()
            .and_then(|p| p.extract(&publish.topic))
            .unwrap_or_default();
        match self.decoder.decode_with(&publish.payload, &metadata) {
            Ok(record) => out.give(record),
            Err(error) => {
                let position = SourcePosition::Mqtt {
                    topic: publish.topic.clone(),
                    sequence,
                };
                out.reject(position, &publish.payload, &error);
            }
        }
        if publish.qos != QoS::AtMostOnce {
            self.unacked.push_back((out.epoch(), ack_handle(&publish)));
        }
    }

    /// Sends acknowledgements from the backlog until the channel is full again.
    fn drain_ack_backlog(&mut self) {
        while let Some(handle) = self.ack_backlog.front() {
            if self.client.try_ack(handle).is_err() {
                return;
            }
            self.ack_backlog.pop_front();
        }
    }
}

/// What acknowledging needs of a message (QoS and packet id), without its payload, so the
/// unacknowledged window does not hold every payload in memory.
fn ack_handle(publish: &Publish) -> Publish {
    let mut handle = Publish::new("", publish.qos, Vec::new());
    handle.pkid = publish.pkid;
    handle
}

impl<T: DeserializeOwned> SourceReader<T> for MqttReader<T> {
    fn poll(&mut self, out: &mut SourceOutput<'_, T>, budget: usize) -> SourceStatus {
        self.drain_ack_backlog();
        out.report_connected(self.subscribed.load(Ordering::Acquire));
        for _ in 0..budget {
            match self.messages.try_recv() {
                Ok(publish) => self.ingest(publish, out),
                Err(TryRecvError::Empty) => return SourceStatus::Idle,
                Err(TryRecvError::Disconnected) => {
                    if !self.network_gone_logged {
                        tracing::error!("the MQTT network thread has stopped; no more messages will arrive");
                        self.network_gone_logged = true;
                    }
                    return SourceStatus::Idle;
                }
            }
        }
        SourceStatus::Ready
    }

    /// The next ingest sequence number.
    fn checkpoint(&self) -> Option<SourceCheckpoint> {
        Some(SourceCheckpoint::Sequence { next: self.sequence })
    }

    fn processed(&mut self, frontier: Epoch) {
        while self.unacked.front().is_some_and(|(epoch, _)| *epoch < frontier) {
            if let Some((_, handle)) = self.unacked.pop_front() {
                self.ack_backlog.push_back(handle);
            }
        }
        self.drain_ack_backlog();
    }
}

impl<T> Drop for MqttReader<T> {
    fn drop(&mut self) {
        let deadline = Instant::now() + DROP_ACK_GRACE;
        while let Some(handle) = self.ack_backlog.front() {
            if self.client.try_ack(handle).is_ok() {
                self.ack_backlog.pop_front();
            } else if Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            } else {
                tracing::warn!(
                    unacknowledged = self.ack_backlog.len(),
                    "MQTT source closing with acknowledgements not sent; the broker will redeliver them"
                );
                break;
            }
        }
        self.stop.store(true, Ordering::Release);
        // Queued after the acknowledgements, so the event loop sends those first.
        if self.client.try_disconnect().is_err() {
            tracing::debug!("MQTT connection already closed");
        }
    }
}

/// The reader of every other worker: the session belongs to worker 0, so these never have
/// anything to read (and never finish: MQTT is unbounded).
#[derive(Debug)]
pub(super) struct IdleReader;

impl<T> SourceReader<T> for IdleReader {
    fn poll(&mut self, _out: &mut SourceOutput<'_, T>, _budget: usize) -> SourceStatus {
        SourceStatus::Idle
    }
}
