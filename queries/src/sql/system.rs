//! The `system` schema: the pipeline's own state as SQL tables.
//!
//! * `system.streams(stream, received, accepted, dead_lettered)` — per-stream counters;
//!   `received = accepted + dead_lettered` always holds;
//! * `system.dlq(stream, source, position, kind, reason, raw, rejected_at)` — the most recent
//!   dead letters, oldest first (`raw` is the record as UTF-8, invalid bytes replaced);
//! * `system.frontiers(projection, as_of)` — each projection and the frontier the query
//!   reads it at (the same `as_of` as the response's);
//! * `system.sources(stream, source, connected, received, rate_per_s, lag)` — each
//!   stream's source: whether its readers are connected (`NULL` for a source without a
//!   connection), records received, the recent rate and the reported lag (`NULL` if none);
//! * `system.audit(at, who, client, method, path, status, outcome)` — the most recent
//!   ingest and admin calls, oldest first (see [`crate::audit`]).
//! * `system.actions(action_id, rule, key, state, sink, endpoint, outcome, attempts,
//!   http_status, latency_ms, error, enqueued_at, finished_at)` — the most recent finished
//!   action deliveries, oldest first (see `tributary_engine::delivery`).
//!
//! Like live projections, a system table is built per query and only when the statement
//! names it: a query that does not read the DLQ never copies it.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMillisecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use tributary_engine::delivery::DeliveryLog;
use tributary_engine::runtime::{CounterRegistry, PipelineHealth};
use tributary_engine::source::{Connectivity, DeadLetterQueue};
use tributary_engine::{Epoch, RunningPipeline};

use crate::audit::AuditLog;

/// The schema the system tables live in.
pub(crate) const SYSTEM_SCHEMA: &str = "system";

/// What the system tables are built from.
#[derive(Debug, Clone, Default)]
pub struct SystemSources {
    counters: Arc<CounterRegistry>,
    dead_letters: Arc<DeadLetterQueue>,
    health: Arc<PipelineHealth>,
    audit: Arc<AuditLog>,
    deliveries: Arc<DeliveryLog>,
}

impl SystemSources {
    /// The counters, dead letters and source health of a running pipeline; the audit log
    /// is empty until [`with_audit`](Self::with_audit).
    pub fn for_pipeline(pipeline: &RunningPipeline) -> Self {
        Self {
            counters: pipeline.counters(),
            dead_letters: pipeline.dead_letters(),
            health: pipeline.health(),
            audit: Arc::new(AuditLog::default()),
            deliveries: pipeline.deliveries(),
        }
    }

    /// The same sources with `system.audit` reading `audit`.
    pub fn with_audit(self, audit: Arc<AuditLog>) -> Self {
        Self { audit, ..self }
    }

    /// Builds the system table `name` as of `as_of` for the projections `projections`, or
    /// `None` if there is no such table.
    pub(crate) fn table(
        &self,
        name: &str,
        as_of: Epoch,
        projections: &[String],
    ) -> Option<Result<RecordBatch, ArrowError>> {
        match name {
            "streams" => Some(self.streams()),
            "dlq" => Some(self.dlq()),
            "frontiers" => Some(frontiers(as_of, projections)),
            "sources" => Some(self.sources()),
            "audit" => Some(self.audit()),
            "actions" => Some(actions(&self.deliveries)),
            _ => None,
        }
    }

    fn streams(&self) -> Result<RecordBatch, ArrowError> {
        let snapshot = self.counters.snapshot();
        let schema = Arc::new(Schema::new(vec![
            Field::new("stream", DataType::Utf8, false),
            Field::new("received", DataType::Int64, false),
            Field::new("accepted", DataType::Int64, false),
            Field::new("dead_lettered", DataType::Int64, false),
        ]));
        let count = |pick: fn(&tributary_engine::source::CounterSnapshot) -> u64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(
                snapshot.values().map(|s| i64::try_from(pick(s)).unwrap_or(i64::MAX)),
            ))
        };
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(snapshot.keys())),
                count(|s| s.received),
                count(|s| s.accepted),
                count(|s| s.dead_lettered),
            ],
        )
    }

    fn dlq(&self) -> Result<RecordBatch, ArrowError> {
        let letters = self.dead_letters.recent();
        let text = |f: &dyn Fn(&tributary_engine::source::DeadLetter) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(letters.iter().map(f)))
        };
        RecordBatch::try_new(
            dlq_schema(),
            vec![
                text(&|l| l.stream.clone()),
                text(&|l| l.position.kind().to_string()),
                text(&|l| l.position.to_string()),
                text(&|l| l.kind.as_str().to_string()),
                text(&|l| l.reason.clone()),
                text(&|l| String::from_utf8_lossy(&l.raw).into_owned()),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    letters.iter().map(|l| l.rejected_at_ms),
                )),
            ],
        )
    }
}

impl SystemSources {
    fn sources(&self) -> Result<RecordBatch, ArrowError> {
        let sources = self.health.sources().snapshot();
        let schema = Arc::new(Schema::new(vec![
            Field::new("stream", DataType::Utf8, false),
            Field::new("source", DataType::Utf8, false),
            Field::new("connected", DataType::Boolean, true),
            Field::new("received", DataType::Int64, false),
            Field::new("rate_per_s", DataType::Float64, false),
            Field::new("lag", DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(sources.iter().map(|s| s.stream.as_str()))),
                Arc::new(StringArray::from_iter_values(sources.iter().map(|s| s.source.as_str()))),
                Arc::new(BooleanArray::from_iter(sources.iter().map(|s| match s.connectivity {
                    Connectivity::Unknown => None,
                    Connectivity::Connected => Some(true),
                    Connectivity::Disconnected => Some(false),
                }))),
                Arc::new(Int64Array::from_iter_values(
                    sources.iter().map(|s| i64::try_from(s.received).unwrap_or(i64::MAX)),
                )),
                Arc::new(Float64Array::from_iter_values(sources.iter().map(|s| s.rate_per_s))),
                Arc::new(Int64Array::from_iter(
                    sources
                        .iter()
                        .map(|s| s.lag.map(|l| i64::try_from(l).unwrap_or(i64::MAX))),
                )),
            ],
        )
    }

    fn audit(&self) -> Result<RecordBatch, ArrowError> {
        let entries = self.audit.recent();
        let text = |name: &str| Field::new(name, DataType::Utf8, false);
        let schema = Arc::new(Schema::new(vec![
            Field::new("at", DataType::Timestamp(TimeUnit::Millisecond, None), false),
            text("who"),
            Field::new("client", DataType::Utf8, true),
            text("method"),
            text("path"),
            Field::new("status", DataType::Int64, false),
            text("outcome"),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    entries.iter().map(|e| e.at_ms),
                )),
                Arc::new(StringArray::from_iter_values(entries.iter().map(|e| e.who.as_str()))),
                Arc::new(StringArray::from_iter(entries.iter().map(|e| e.client.as_deref()))),
                Arc::new(StringArray::from_iter_values(entries.iter().map(|e| e.method.as_str()))),
                Arc::new(StringArray::from_iter_values(entries.iter().map(|e| e.path.as_str()))),
                Arc::new(Int64Array::from_iter_values(
                    entries.iter().map(|e| i64::from(e.status)),
                )),
                Arc::new(StringArray::from_iter_values(
                    entries.iter().map(|e| e.outcome.as_str()),
                )),
            ],
        )
    }
}

fn dlq_schema() -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        text("stream"),
        text("source"),
        text("position"),
        text("kind"),
        text("reason"),
        text("raw"),
        Field::new("rejected_at", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]))
}

fn frontiers(as_of: Epoch, projections: &[String]) -> Result<RecordBatch, ArrowError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("projection", DataType::Utf8, false),
        Field::new("as_of", DataType::UInt64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(projections)),
            Arc::new(UInt64Array::from_iter_values(projections.iter().map(|_| as_of))),
        ],
    )
}

/// `system.actions`: one row per finished delivery in the log, oldest first.
fn actions(log: &DeliveryLog) -> Result<RecordBatch, ArrowError> {
    let records = log.recent();
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    let at = |name: &str| Field::new(name, DataType::Timestamp(TimeUnit::Millisecond, None), false);
    let schema = Arc::new(Schema::new(vec![
        text("action_id"),
        text("rule"),
        text("key"),
        text("state"),
        text("sink"),
        text("endpoint"),
        text("outcome"),
        Field::new("attempts", DataType::Int64, false),
        Field::new("http_status", DataType::Int64, true),
        Field::new("latency_ms", DataType::Int64, false),
        Field::new("error", DataType::Utf8, true),
        at("enqueued_at"),
        at("finished_at"),
    ]));
    let text = |f: &dyn Fn(&tributary_engine::delivery::DeliveryRecord) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(records.iter().map(f)))
    };
    let time = |f: fn(&tributary_engine::delivery::DeliveryRecord) -> i64| -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from_iter_values(records.iter().map(f)))
    };
    RecordBatch::try_new(
        schema,
        vec![
            text(&|r| &r.action_id),
            text(&|r| &r.rule),
            text(&|r| &r.key),
            text(&|r| &r.state),
            text(&|r| &r.sink),
            text(&|r| &r.endpoint),
            text(&|r| r.outcome.as_str()),
            Arc::new(Int64Array::from_iter_values(
                records.iter().map(|r| i64::from(r.attempts)),
            )),
            Arc::new(Int64Array::from_iter(
                records.iter().map(|r| r.http_status.map(i64::from)),
            )),
            Arc::new(Int64Array::from_iter_values(records.iter().map(|r| r.latency_ms))),
            Arc::new(StringArray::from_iter(records.iter().map(|r| r.error.as_deref()))),
            time(|r| r.enqueued_at_ms),
            time(|r| r.finished_at_ms),
        ],
    )
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampMillisecondType};
    use tributary_engine::source::{DeadLetter, RejectKind, SourcePosition};

    use super::*;

    #[test]
    fn streams_and_dlq_reflect_counters_and_letters() -> Result<(), ArrowError> {
        let sources = SystemSources::default();
        let counters = sources.counters.stream("readings");
        sources.dead_letters.reject(
            &counters,
            DeadLetter::new(
                "readings",
                SourcePosition::Http { request: 3, line: 2 },
                RejectKind::MalformedJson,
                "malformed JSON: oops".into(),
                b"{\xff",
            ),
        );
        let streams = sources.streams()?;
        assert_eq!(streams.num_rows(), 1);
        assert_eq!(streams.column(0).as_string::<i32>().value(0), "readings");
        assert_eq!(streams.column(1).as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(streams.column(2).as_primitive::<Int64Type>().value(0), 0);
        assert_eq!(streams.column(3).as_primitive::<Int64Type>().value(0), 1);

        let dlq = sources.dlq()?;
        let text = |c: usize| dlq.column(c).as_string::<i32>().value(0).to_string();
        assert_eq!(
            [text(0), text(1), text(2), text(3), text(4), text(5)],
            [
                "readings",
                "http",
                "http:request 3 line 2",
                "malformed_json",
                "malformed JSON: oops",
                "{\u{fffd}"
            ]
        );
        assert!(dlq.column(6).as_primitive::<TimestampMillisecondType>().value(0) > 0);
        Ok(())
    }

    #[test]
    fn audit_lists_entries_oldest_first_and_sources_is_empty_without_a_pipeline() -> Result<(), ArrowError> {
        let audit = Arc::new(AuditLog::in_memory(10));
        for (who, status) in [("alice", 200), ("bob", 403)] {
            audit.record(crate::audit::AuditEntry {
                at_ms: 1_700_000_000_000,
                who: who.into(),
                client: None,
                method: "POST".into(),
                path: "/v1/ingest/readings".into(),
                status,
                outcome: crate::audit::AuditEntry::outcome_of(status).into(),
            });
        }
        let sources = SystemSources::default().with_audit(audit);
        let Some(batch) = sources.table("audit", 0, &[]) else {
            panic!("system.audit must exist");
        };
        let batch = batch?;
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(1).as_string::<i32>().value(1), "bob");
        assert!(batch.column(2).is_null(0));
        assert_eq!(batch.column(5).as_primitive::<Int64Type>().value(1), 403);
        assert_eq!(batch.column(6).as_string::<i32>().value(1), "forbidden");
        let Some(empty) = sources.table("sources", 0, &[]) else {
            panic!("system.sources must exist");
        };
        assert_eq!(empty?.num_columns(), 6);
        Ok(())
    }

    #[test]
    fn actions_show_each_finished_delivery_with_nullable_status_and_error() -> Result<(), ArrowError> {
        use tributary_engine::delivery::{DeliveryOutcome, DeliveryRecord};
        let sources = SystemSources::default();
        let record = |id: &str, outcome, http_status, error: Option<&str>| DeliveryRecord {
            action_id: id.into(),
            rule: "sensor_anomaly".into(),
            key: "7".into(),
            state: "FIRING".into(),
            sink: "webhook".into(),
            endpoint: "http://127.0.0.1:9/hook".into(),
            outcome,
            attempts: 3,
            http_status,
            latency_ms: 12,
            error: error.map(str::to_string),
            enqueued_at_ms: 1_000,
            finished_at_ms: 1_012,
        };
        sources.deliveries.enqueued();
        sources.deliveries.started();
        sources
            .deliveries
            .finished(record("sensor_anomaly:0", DeliveryOutcome::Delivered, Some(200), None));
        sources.deliveries.enqueued();
        sources.deliveries.refused(record(
            "sensor_anomaly:1",
            DeliveryOutcome::DeadLettered,
            None,
            Some("queue full"),
        ));
        let Some(Ok(batch)) = sources.table("actions", 0, &[]) else {
            panic!("system.actions must build");
        };
        assert_eq!(batch.num_rows(), 2);
        let text = |c: usize, r: usize| batch.column(c).as_string::<i32>().value(r).to_string();
        assert_eq!(
            [text(0, 0), text(6, 0), text(0, 1), text(6, 1)],
            ["sensor_anomaly:0", "delivered", "sensor_anomaly:1", "dead_lettered"]
        );
        let status = batch.column(8).as_primitive::<Int64Type>();
        assert_eq!((status.value(0), status.is_null(1)), (200, true));
        assert!(batch.column(10).is_null(0));
        assert_eq!(text(10, 1), "queue full");
        assert_eq!(batch.column(7).as_primitive::<Int64Type>().value(0), 3);
        Ok(())
    }

    #[test]
    fn frontiers_name_every_projection_at_the_read_frontier_and_unknown_tables_are_none() {
        let sources = SystemSources::default();
        let projections = ["a".to_string(), "b".to_string()];
        let Some(Ok(batch)) = sources.table("frontiers", 7, &projections) else {
            panic!("system.frontiers must build");
        };
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(
            batch.column(1).as_primitive::<arrow::datatypes::UInt64Type>().values(),
            &[7, 7]
        );
        assert!(sources.table("nope", 7, &projections).is_none());
    }
}
