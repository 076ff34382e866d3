//! The dead-letter queue: every record a source could not accept, with its raw bytes, its
//! source position and a human-readable reason.
//!
//! Rejection never stops a pipeline. A [`DeadLetterQueue`] is shared by every worker and by
//! HTTP ingest; it hands each [`DeadLetter`] to a durable [`DeadLetterSink`] (NDJSON files per
//! stream from `tributary-connectors`, Parquet once history lands) and keeps the most recent
//! ones in memory for `system.dlq`. Counting happens where the rejection happens, through
//! [`DeadLetterQueue::reject`], so `received = accepted + dead_lettered` holds per stream.
//! Records the dataflow later finds behind the watermark were accepted already; they are
//! dead-lettered through [`DeadLetterQueue::reject_late`] and counted as `late` instead.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{SourcePosition, StreamCounters};
use crate::record::DecodeError;

/// Why a record was rejected, as a category `system.dlq` can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// Not valid JSON.
    MalformedJson,
    /// Not valid UTF-8.
    InvalidUtf8,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A field is missing, has the wrong type, or (event time) cannot be parsed.
    InvalidFields,
    /// Larger than the stream's record size limit.
    Oversized,
    /// Behind the watermark, on a stream that dead-letters late records.
    Late,
    /// An action that could not be delivered (retries exhausted, a permanent error, a full
    /// delivery queue).
    Delivery,
}

impl RejectKind {
    /// The snake_case name used in files, SQL and HTTP answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::NotAnObject => "not_an_object",
            Self::InvalidFields => "invalid_fields",
            Self::Oversized => "oversized",
            Self::Late => "late",
            Self::Delivery => "delivery",
        }
    }
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&DecodeError> for RejectKind {
    fn from(e: &DecodeError) -> Self {
        match e {
            DecodeError::InvalidUtf8 { .. } => Self::InvalidUtf8,
            DecodeError::Malformed(_) => Self::MalformedJson,
            DecodeError::NotAnObject(_) => Self::NotAnObject,
            DecodeError::Fields(_) => Self::InvalidFields,
            DecodeError::Oversized { .. } => Self::Oversized,
        }
    }
}

/// One rejected record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The stream it was meant for.
    pub stream: String,
    /// Where it came from.
    pub position: SourcePosition,
    /// The category of the rejection.
    pub kind: RejectKind,
    /// What was wrong, for a person.
    pub reason: String,
    /// The record exactly as received.
    pub raw: Vec<u8>,
    /// When it was rejected, epoch milliseconds.
    pub rejected_at_ms: i64,
}

impl DeadLetter {
    /// A dead letter for a record that failed to decode, stamped now.
    pub fn from_decode_error(stream: &str, position: SourcePosition, raw: &[u8], error: &DecodeError) -> Self {
        Self::new(stream, position, RejectKind::from(error), error.to_string(), raw)
    }

    /// A dead letter stamped now.
    pub fn new(stream: &str, position: SourcePosition, kind: RejectKind, reason: String, raw: &[u8]) -> Self {
        Self {
            stream: stream.to_string(),
            position,
            kind,
            reason,
            raw: raw.to_vec(),
            rejected_at_ms: now_ms(),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Durable storage for dead letters (files, a topic, ...).
pub trait DeadLetterSink: Send + Sync + fmt::Debug {
    /// Stores one dead letter. Called from worker threads and HTTP handlers; keep it short.
    fn write(&self, letter: &DeadLetter) -> std::io::Result<()>;
}

/// The process-wide dead-letter queue (see the module docs).
#[derive(Debug)]
pub struct DeadLetterQueue {
    sink: Option<Box<dyn DeadLetterSink>>,
    recent: Mutex<VecDeque<DeadLetter>>,
    capacity: usize,
    write_errors: AtomicU64,
}

impl DeadLetterQueue {
    /// How many recent dead letters are kept in memory by default: 10,000.
    pub const DEFAULT_RECENT_CAPACITY: usize = 10_000;

    /// A queue that keeps only the `capacity` most recent dead letters, in memory.
    pub fn in_memory(capacity: usize) -> Self {
        Self {
            sink: None,
            recent: Mutex::new(VecDeque::new()),
            capacity,
            write_errors: AtomicU64::new(0),
        }
    }

    /// A queue that writes every dead letter to `sink` and keeps the `capacity` most recent
    /// in memory.
    pub fn with_sink(sink: Box<dyn DeadLetterSink>, capacity: usize) -> Self {
        Self {
            sink: Some(sink),
            ..Self::in_memory(capacity)
        }
    }

    /// Counts `letter` as received and dead-lettered on `counters` and stores it.
    pub fn reject(&self, counters: &StreamCounters, letter: DeadLetter) {
        counters.received.fetch_add(1, Ordering::Relaxed);
        counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        self.push(letter);
    }

    /// Counts `letter`, an accepted record later found behind the watermark, as `late` on
    /// `counters` and stores it. It was already counted as received and accepted, so
    /// `received = accepted + dead_lettered` keeps holding; `late` counts the subset of
    /// accepted records that no projection applied.
    pub fn reject_late(&self, counters: &StreamCounters, letter: DeadLetter) {
        counters.late.fetch_add(1, Ordering::Relaxed);
        self.push(letter);
    }

    /// Stores `letter`, an action the delivery layer gave up on. No stream counter changes:
    /// the action was never an input record; the delivery log counts it.
    pub fn reject_delivery(&self, letter: DeadLetter) {
        self.push(letter);
    }

    fn push(&self, letter: DeadLetter) {
        tracing::debug!(stream = %letter.stream, position = %letter.position, reason = %letter.reason, "dead-lettered");
        if let Some(sink) = &self.sink
            && let Err(e) = sink.write(&letter)
        {
            // The letter stays in memory (and counted); the failure is visible as a counter.
            self.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(stream = %letter.stream, error = %e, "cannot write to the dead-letter sink");
        }
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if self.capacity == 0 {
            return;
        }
        if recent.len() == self.capacity {
            recent.pop_front();
        }
        recent.push_back(letter);
    }

    /// The most recent dead letters, oldest first.
    pub fn recent(&self) -> Vec<DeadLetter> {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// How many dead letters the sink failed to store.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }
}

impl Default for DeadLetterQueue {
    fn default() -> Self {
        Self::in_memory(Self::DEFAULT_RECENT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Debug, Default)]
    struct Failing;
    impl DeadLetterSink for Failing {
        fn write(&self, _: &DeadLetter) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }

    fn letter(i: u64) -> DeadLetter {
        DeadLetter::new(
            "s",
            SourcePosition::Generator { index: i },
            RejectKind::MalformedJson,
            "bad".into(),
            b"{",
        )
    }

    #[test]
    fn counts_keeps_recent_and_survives_a_failing_sink() {
        let counters = Arc::new(StreamCounters::default());
        let dlq = DeadLetterQueue::with_sink(Box::new(Failing), 2);
        for i in 0..3 {
            dlq.reject(&counters, letter(i));
        }
        let snap = counters.snapshot();
        assert_eq!((snap.received, snap.accepted, snap.dead_lettered), (3, 0, 3));
        let kept: Vec<_> = dlq.recent().into_iter().map(|l| l.position).collect();
        assert_eq!(
            kept,
            [
                SourcePosition::Generator { index: 1 },
                SourcePosition::Generator { index: 2 }
            ]
        );
        assert_eq!(dlq.write_errors(), 3);
    }

    #[test]
    fn late_letters_count_apart_from_rejections() {
        let counters = StreamCounters::default();
        let dlq = DeadLetterQueue::in_memory(10);
        let position = SourcePosition::Dataflow { epoch: 3 };
        dlq.reject_late(
            &counters,
            DeadLetter::new("s", position, RejectKind::Late, "late".into(), b"{}"),
        );
        let snap = counters.snapshot();
        assert_eq!((snap.received, snap.dead_lettered, snap.late), (0, 0, 1));
        assert_eq!(dlq.recent()[0].position.to_string(), "dataflow:epoch 3");
    }

    #[test]
    fn decode_errors_map_to_kinds() {
        let e = DecodeError::Oversized { size: 10, limit: 5 };
        let l = DeadLetter::from_decode_error("s", SourcePosition::Generator { index: 0 }, b"x", &e);
        assert_eq!(l.kind, RejectKind::Oversized);
        assert_eq!(l.reason, "record of 10 bytes exceeds the limit of 5 bytes");
    }
}
