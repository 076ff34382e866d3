//! Where a record came from: the source position every record and dead letter carries.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The position of one record in its source, precise enough to find it again (and, for the
/// history manifest, to say which records a file covers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourcePosition {
    /// A Kafka message.
    Kafka {
        /// Topic name.
        topic: String,
        /// Partition number.
        partition: i32,
        /// Offset in the partition.
        offset: i64,
    },
    /// An MQTT message: its topic and the order in which this process received it.
    Mqtt {
        /// The topic it was published on.
        topic: String,
        /// Per-source ingest sequence, starting at 0.
        sequence: u64,
    },
    /// One record of an HTTP ingest request.
    Http {
        /// Per-stream request sequence, starting at 0.
        request: u64,
        /// 1-based line (NDJSON) or element (JSON array) of the record in the body.
        line: usize,
    },
    /// A record of the built-in generator.
    Generator {
        /// Its index in the generated sequence.
        index: u64,
    },
    /// A row of a file (Parquet replay, batch loads).
    File {
        /// The file.
        path: String,
        /// 0-based row number.
        row: u64,
    },
    /// A record judged inside the dataflow (a late record): the source position is no longer
    /// known there, only the epoch in which it was judged.
    Dataflow {
        /// The epoch (logical time) of the judgement.
        epoch: u64,
    },
    /// An action the delivery layer dead-lettered.
    Action {
        /// The action's id (its idempotency key).
        id: String,
    },
}

impl SourcePosition {
    /// The kind of source, as `system.dlq` shows it (`kafka`, `mqtt`, `http`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Kafka { .. } => "kafka",
            Self::Mqtt { .. } => "mqtt",
            Self::Http { .. } => "http",
            Self::Generator { .. } => "generator",
            Self::File { .. } => "file",
            Self::Dataflow { .. } => "dataflow",
            Self::Action { .. } => "action",
        }
    }
}

impl fmt::Display for SourcePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kafka {
                topic,
                partition,
                offset,
            } => write!(f, "kafka:{topic}/{partition}@{offset}"),
            Self::Mqtt { topic, sequence } => write!(f, "mqtt:{topic}#{sequence}"),
            Self::Http { request, line } => write!(f, "http:request {request} line {line}"),
            Self::Generator { index } => write!(f, "generator:{index}"),
            Self::File { path, row } => write!(f, "file:{path}#{row}"),
            Self::Dataflow { epoch } => write!(f, "dataflow:epoch {epoch}"),
            Self::Action { id } => write!(f, "action:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_and_serialises_with_its_kind() {
        let p = SourcePosition::Kafka {
            topic: "orders".into(),
            partition: 3,
            offset: 42,
        };
        assert_eq!(p.to_string(), "kafka:orders/3@42");
        assert_eq!(p.kind(), "kafka");
        let json = serde_json::to_string(&p).expect("serialises");
        assert_eq!(json, r#"{"kind":"kafka","topic":"orders","partition":3,"offset":42}"#);
        let back: SourcePosition = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, p);
    }
}
