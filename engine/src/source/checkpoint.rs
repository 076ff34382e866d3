//! Where a reader would resume: the source positions a history file covers.

use serde::{Deserialize, Serialize};

/// A reader's resume position: everything before it has been emitted (or dead-lettered).
///
/// The history manifest stores one per file, as of the file's last epoch, so recovery can
/// resume each source right after what history holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceCheckpoint {
    /// Kafka: the next offset to read in each assigned partition.
    Kafka {
        /// One entry per (topic, partition), sorted.
        partitions: Vec<KafkaPosition>,
    },
    /// A sequence-numbered source (the generator's next index; MQTT and HTTP ingest
    /// sequences, for information): the next sequence number this reader would emit.
    Sequence {
        /// The next sequence number.
        next: u64,
    },
}

/// The next offset to read in one Kafka partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KafkaPosition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// The next offset to read.
    pub next_offset: i64,
}
