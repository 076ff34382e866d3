//! The records of one epoch on their way to history, how they become Arrow, and how history
//! batches become records again (recovery, replay).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, TimestampMillisecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::EngineError;
use crate::source::EventTimeFn;
use crate::time::{Epoch, EventTime};

/// The column holding the epoch a record entered in.
pub const EPOCH_COLUMN: &str = "_epoch";
/// The column holding a record's event time (ms), by which files are partitioned.
pub const EVENT_TIME_COLUMN: &str = "_event_time";

/// One epoch's records, type-erased so a writer thread can encode them.
pub trait HistoryRows: Send {
    /// How many records.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Serialises the records to one batch of the stream's [`history_schema`].
    fn encode(self: Box<Self>) -> Result<RecordBatch, EngineError>;
}

/// The history schema of a stream whose records have the Arrow `fields`.
pub fn history_schema(fields: &[FieldRef]) -> SchemaRef {
    let mut all: Vec<FieldRef> = fields.to_vec();
    all.push(Arc::new(Field::new(EPOCH_COLUMN, DataType::UInt64, false)));
    all.push(Arc::new(Field::new(
        EVENT_TIME_COLUMN,
        DataType::Timestamp(TimeUnit::Millisecond, None),
        false,
    )));
    Arc::new(Schema::new(all))
}

/// Records of a serde type `T` accepted in one epoch.
pub struct TypedRows<T> {
    stream: Arc<str>,
    schema: SchemaRef,
    epoch: Epoch,
    records: Vec<T>,
    event_time: Option<EventTimeFn<T>>,
    /// Used as every record's event time when the stream has no event-time function.
    ingest_ms: EventTime,
}

impl<T> std::fmt::Debug for TypedRows<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedRows")
            .field("stream", &self.stream)
            .field("epoch", &self.epoch)
            .field("records", &self.records.len())
            .finish()
    }
}

impl<T> TypedRows<T> {
    /// `records` of `stream` (schema from [`history_schema`]) accepted in `epoch`; event
    /// times from `event_time`, or `ingest_ms` for all when there is none.
    pub fn new(
        stream: Arc<str>,
        schema: SchemaRef,
        epoch: Epoch,
        records: Vec<T>,
        event_time: Option<EventTimeFn<T>>,
        ingest_ms: EventTime,
    ) -> Self {
        Self {
            stream,
            schema,
            epoch,
            records,
            event_time,
            ingest_ms,
        }
    }
}

impl<T: Serialize + Send> HistoryRows for TypedRows<T> {
    fn len(&self) -> usize {
        self.records.len()
    }

    fn encode(self: Box<Self>) -> Result<RecordBatch, EngineError> {
        let fail = |reason: String| EngineError::History {
            stream: self.stream.to_string(),
            reason,
        };
        let n = self.records.len();
        let record_fields = &self.schema.fields()[..self.schema.fields().len() - 2];
        let body = serde_arrow::to_record_batch(record_fields, &self.records)
            .map_err(|e| fail(format!("cannot encode records: {e}")))?;
        let times: Vec<EventTime> = match &self.event_time {
            Some(f) => self.records.iter().map(|r| f(r)).collect(),
            None => vec![self.ingest_ms; n],
        };
        let mut columns: Vec<ArrayRef> = body.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from(vec![self.epoch; n])));
        columns.push(Arc::new(TimestampMillisecondArray::from(times)));
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| fail(e.to_string()))
    }
}

/// One record read back from history: the epoch it entered in, its event time, the record.
pub type HistoryRecord<T> = (Epoch, EventTime, T);

/// Decodes a batch of a stream's [`history_schema`] back into its records, with the epoch
/// each entered in and its event time. `Err` says why the batch is not such a batch.
pub fn decode_history_batch<T: DeserializeOwned>(batch: &RecordBatch) -> Result<Vec<HistoryRecord<T>>, String> {
    let schema = batch.schema();
    let column = |name: &str| schema.index_of(name).map_err(|_| format!("no {name} column"));
    let (epoch_at, time_at) = (column(EPOCH_COLUMN)?, column(EVENT_TIME_COLUMN)?);
    let epochs = batch.column(epoch_at).as_any().downcast_ref::<UInt64Array>();
    let times = batch
        .column(time_at)
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>();
    let (Some(epochs), Some(times)) = (epochs, times) else {
        return Err(format!(
            "{EPOCH_COLUMN} must be UInt64 and {EVENT_TIME_COLUMN} TIMESTAMP(ms)"
        ));
    };
    let fields: Vec<usize> = (0..schema.fields().len())
        .filter(|i| *i != epoch_at && *i != time_at)
        .collect();
    let body = batch.project(&fields).map_err(|e| e.to_string())?;
    let records: Vec<T> = serde_arrow::from_record_batch(&body).map_err(|e| e.to_string())?;
    Ok(records
        .into_iter()
        .enumerate()
        .map(|(i, record)| (epochs.value(i), times.value(i), record))
        .collect())
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array};
    use serde::Deserialize;

    use super::*;
    use crate::record::derive_arrow_fields;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Reading {
        id: i64,
        ts: i64,
    }

    #[test]
    fn encodes_records_with_epoch_and_event_time() -> Result<(), EngineError> {
        let schema = history_schema(&derive_arrow_fields::<Reading>(&[])?);
        let records = vec![Reading { id: 1, ts: 10 }, Reading { id: 2, ts: 5 }];
        let f: EventTimeFn<Reading> = Arc::new(|r: &Reading| r.ts);
        let rows = TypedRows::new("r".into(), schema.clone(), 7, records.clone(), Some(f), 0);
        let batch = Box::new(rows).encode()?;
        assert_eq!(batch.schema(), schema);
        let times = batch
            .column(3)
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .expect("ts");
        assert_eq!(times.values().to_vec(), vec![10, 5]);
        let epochs = batch.column(2).as_any().downcast_ref::<UInt64Array>().expect("epoch");
        assert_eq!(epochs.values().to_vec(), vec![7, 7]);
        let ids = batch.column(0).as_any().downcast_ref::<Int64Array>().expect("id");
        assert_eq!(ids.len(), 2);
        // Without an event-time function every record gets the ingest time.
        let rows = TypedRows::new("r".into(), schema, 8, records, None, 1234);
        let batch = Box::new(rows).encode()?;
        let times = batch
            .column(3)
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .expect("ts");
        assert_eq!(times.values().to_vec(), vec![1234, 1234]);
        // And back: the records with their epoch and event time.
        let back: Vec<HistoryRecord<Reading>> = decode_history_batch(&batch).map_err(EngineError::Config)?;
        assert_eq!(
            back.iter().map(|(e, t, r)| (*e, *t, r.id)).collect::<Vec<_>>(),
            vec![(8, 1234, 1), (8, 1234, 2)]
        );
        let body_only = batch.project(&[0, 1]).map_err(|e| EngineError::Config(e.to_string()))?;
        assert!(decode_history_batch::<Reading>(&body_only).is_err());
        Ok(())
    }
}
