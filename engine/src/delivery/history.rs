//! [`DeliveryHistory`]: every finished delivery, appended to history as the stream
//! [`DELIVERY_HISTORY_STREAM`] (queryable as `history.action_deliveries`).
//!
//! `system.actions` keeps only the most recent outcomes in memory; this is the durable record
//! of every action and its outcome (attempts, status, latency), in the same store and layout
//! as the input streams. It is an *output*: recovery and replay never feed it back into a
//! pipeline (they only replay the streams a pipeline reads), and a replay does not deliver
//! actions, so it records nothing.
//!
//! Each outcome is appended as it is decided, on the sink's delivery thread (the writer only
//! takes a `Vec`; encoding and the fsynced commit run on the writer's own thread), at the
//! epoch the pipeline's clock shows then — never lower than the last one recorded, since a
//! history writer takes epochs in order. Its event time (the `date=`/`hour=` partition) is
//! when the delivery finished.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::log::DeliveryRecord;
use crate::EngineError;
use crate::history::{EpochRecords, HistoryStore, HistoryWriter, TypedRows, history_schema};
use crate::record::derive_arrow_fields;
use crate::source::{EventTimeFn, WorkerInfo};
use crate::time::Epoch;

/// The history stream delivery outcomes are recorded as; no pipeline stream may use it.
pub const DELIVERY_HISTORY_STREAM: &str = "action_deliveries";

/// One delivery as history stores it: [`DeliveryRecord`] with the outcome as text, so the
/// Parquet column is a plain string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryHistoryRow {
    /// The action's id (its idempotency key).
    pub action_id: String,
    /// The rule that emitted it.
    pub rule: String,
    /// The key it fired for.
    pub key: String,
    /// `FIRING` or `RESOLVED`.
    pub state: String,
    /// The kind of sink: `webhook`, `kafka`, `mqtt`.
    pub sink: String,
    /// Where: the URL or the topic.
    pub endpoint: String,
    /// `delivered` or `dead_lettered`.
    pub outcome: String,
    /// Attempts made.
    pub attempts: u32,
    /// The HTTP status of the last response, if there was one.
    pub http_status: Option<u16>,
    /// Milliseconds from enqueueing to the end of the last attempt.
    pub latency_ms: i64,
    /// Why the last attempt failed, or why the action was dead-lettered.
    pub error: Option<String>,
    /// When the sink accepted it, epoch milliseconds.
    pub enqueued_at_ms: i64,
    /// When the delivery ended, epoch milliseconds.
    pub finished_at_ms: i64,
}

impl From<&DeliveryRecord> for DeliveryHistoryRow {
    fn from(r: &DeliveryRecord) -> Self {
        Self {
            action_id: r.action_id.clone(),
            rule: r.rule.clone(),
            key: r.key.clone(),
            state: r.state.clone(),
            sink: r.sink.clone(),
            endpoint: r.endpoint.clone(),
            outcome: r.outcome.as_str().to_string(),
            attempts: r.attempts,
            http_status: r.http_status,
            latency_ms: r.latency_ms,
            error: r.error.clone(),
            enqueued_at_ms: r.enqueued_at_ms,
            finished_at_ms: r.finished_at_ms,
        }
    }
}

/// The epoch a delivery is recorded at: the pipeline's current one, if it has started.
pub type EpochClock = Arc<dyn Fn() -> Option<Epoch> + Send + Sync>;

/// Appends finished deliveries to one history writer.
pub struct DeliveryHistory {
    stream: Arc<str>,
    schema: arrow::datatypes::SchemaRef,
    writer: Box<dyn HistoryWriter>,
    clock: EpochClock,
    event_time: EventTimeFn<DeliveryHistoryRow>,
    last_epoch: Epoch,
}

impl std::fmt::Debug for DeliveryHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryHistory")
            .field("stream", &self.stream)
            .field("last_epoch", &self.last_epoch)
            .finish_non_exhaustive()
    }
}

impl DeliveryHistory {
    /// Opens the [`DELIVERY_HISTORY_STREAM`] writer of `store` (one writer for the whole
    /// pipeline: deliveries do not belong to a worker); `clock` gives the epoch to record at.
    pub fn open(store: &dyn HistoryStore, clock: EpochClock) -> Result<Self, EngineError> {
        let schema = history_schema(&derive_arrow_fields::<DeliveryHistoryRow>(&[
            "enqueued_at_ms",
            "finished_at_ms",
        ])?);
        let writer = store.open(
            DELIVERY_HISTORY_STREAM,
            WorkerInfo { index: 0, peers: 1 },
            schema.clone(),
        )?;
        Ok(Self {
            stream: DELIVERY_HISTORY_STREAM.into(),
            schema,
            writer,
            clock,
            event_time: Arc::new(|row: &DeliveryHistoryRow| row.finished_at_ms),
            last_epoch: 0,
        })
    }

    /// Appends one finished delivery.
    pub fn append(&mut self, record: &DeliveryRecord) {
        let epoch = (self.clock)().unwrap_or(0).max(self.last_epoch);
        self.last_epoch = epoch;
        let row = DeliveryHistoryRow::from(record);
        let finished = row.finished_at_ms;
        self.writer.append(EpochRecords {
            epoch,
            rows: Box::new(TypedRows::new(
                self.stream.clone(),
                self.schema.clone(),
                epoch,
                vec![row],
                Some(self.event_time.clone()),
                finished,
            )),
            checkpoint: None,
        });
    }

    /// Commits everything appended and waits for it; reports the first write error.
    pub fn finish(&mut self) -> Result<(), EngineError> {
        self.writer.finish()
    }
}
