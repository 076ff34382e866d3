//! Action delivery, the engine's side: what an action is, where delivery outcomes are kept,
//! and the contract every action sink (webhook, Kafka topic, MQTT topic) follows.
//!
//! ```text
//!  trigger actions ──Pipeline::deliver──> Export sink (complete epochs only, on the worker)
//!                                              │ ActionSink::submit: try_send, never blocks
//!                                              ▼
//!                         bounded queue ──> delivery thread (tributary-connectors)
//!                                              │ attempts, retries, breaker
//!                                              ▼
//!                 DeliveryLog (counters, recent outcomes → system.actions;
//!                              every outcome → history.action_deliveries, with history on)
//!                 DeadLetterQueue (kind `delivery`, after the last attempt or a full queue)
//! ```
//!
//! The worker thread only converts the action to an [`ActionRecord`] and offers it to each
//! sink; a slow or dead endpoint fills a sink's queue, and a full queue dead-letters the
//! action at once, so ingestion and projections never wait for delivery. Everything a sink
//! decides is recorded in the [`DeliveryLog`], passed explicitly to the sinks and to the
//! query side.

mod action;
mod history;
mod log;

use std::fmt;
use std::sync::Arc;

pub use action::ActionRecord;
pub use history::{DELIVERY_HISTORY_STREAM, DeliveryHistory, DeliveryHistoryRow, EpochClock};
pub use log::{DeliveryCounters, DeliveryLog, DeliveryOutcome, DeliveryRecord, now_ms};

use crate::export::ExportConsumer;
use crate::time::Epoch;

/// Somewhere actions are delivered to: a webhook endpoint, a Kafka topic, an MQTT topic.
pub trait ActionSink: Send + Sync + fmt::Debug {
    /// Queues `action` for delivery and returns at once. Called on dataflow worker threads:
    /// it must never block. An action the sink cannot queue (full queue, closed sink) is
    /// dead-lettered and recorded by the sink itself.
    fn submit(&self, action: ActionRecord);
}

/// The export consumer behind [`Pipeline::deliver`](crate::Pipeline::deliver): converts each
/// inserted action and submits it to every sink.
pub(crate) struct DeliveryExport<A> {
    pub(crate) to_record: Box<dyn Fn(&A) -> ActionRecord>,
    pub(crate) sinks: Vec<Arc<dyn ActionSink>>,
    /// Actions of epochs below this one were delivered before a restart; recovery replays
    /// them to rebuild state, and they are not delivered again.
    pub(crate) replayed: Epoch,
}

impl<A: 'static> ExportConsumer<A> for DeliveryExport<A> {
    fn consume(&mut self, _upper: Epoch, updates: Vec<(A, Epoch, isize)>) {
        // Actions are an append-only log: only insertions are delivered.
        for (action, epoch, diff) in updates {
            if epoch < self.replayed {
                continue;
            }
            if diff <= 0 {
                tracing::warn!("an action was retracted; delivered actions cannot be recalled");
                continue;
            }
            let record = (self.to_record)(&action);
            for sink in &self.sinks {
                sink.submit(record.clone());
            }
        }
    }
}
