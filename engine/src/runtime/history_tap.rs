//! One input's tap into history: keeps the open epoch's accepted records, hands them to the
//! stream's writer when the epoch closes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::datatypes::SchemaRef;
use serde::Serialize;

use crate::EngineError;
use crate::history::{EpochRecords, HistoryWriter, TypedRows};
use crate::source::{EventTimeFn, SourceCheckpoint};
use crate::time::{Epoch, EventTime};

pub(crate) struct HistoryTap<T> {
    stream: Arc<str>,
    schema: SchemaRef,
    writer: Box<dyn HistoryWriter>,
    event_time: Option<EventTimeFn<T>>,
    /// The records accepted in the open epoch.
    pending: Vec<T>,
}

impl<T: Serialize + Clone + Send + 'static> HistoryTap<T> {
    pub(crate) fn new(
        stream: &str,
        schema: SchemaRef,
        writer: Box<dyn HistoryWriter>,
        event_time: Option<EventTimeFn<T>>,
    ) -> Self {
        Self {
            stream: stream.into(),
            schema,
            writer,
            event_time,
            pending: Vec::new(),
        }
    }

    /// Keeps a copy of records about to enter the dataflow.
    pub(crate) fn keep(&mut self, sent: &[(T, Epoch, isize)]) {
        self.pending.extend(sent.iter().map(|(record, _, _)| record.clone()));
    }

    /// Moves the records of the closing `epoch` to the writer (only a `Vec` moves here;
    /// encoding happens on the writer's thread).
    pub(crate) fn close_epoch(&mut self, epoch: Epoch, checkpoint: Option<SourceCheckpoint>) {
        let records = std::mem::take(&mut self.pending);
        let rows = TypedRows::new(
            self.stream.clone(),
            self.schema.clone(),
            epoch,
            records,
            self.event_time.clone(),
            wall_clock_ms(),
        );
        self.writer.append(EpochRecords {
            epoch,
            rows: Box::new(rows),
            checkpoint,
        });
    }

    pub(crate) fn durable(&self) -> Epoch {
        self.writer.durable()
    }

    pub(crate) fn finish(&mut self) -> Result<(), EngineError> {
        self.writer.finish()
    }
}

/// Now, in ms since the Unix epoch: the event time of records of streams without one.
fn wall_clock_ms() -> EventTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| EventTime::try_from(d.as_millis()).unwrap_or(EventTime::MAX))
}
