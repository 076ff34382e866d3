//! Kafka: a consumer-group source and a producer sink (rdkafka, bundled librdkafka).
//!
//! **Source.** [`KafkaSource`] is shared by all workers; each worker opens its own consumer
//! in the configured group and subscribes, so the group protocol spreads the partitions over
//! every worker of every process using the group (with [`StartOffsets::Offsets`] partitions
//! are assigned directly instead: `partition % workers`). Readers never block: they poll
//! with a zero timeout, decode JSON with the engine's `JsonDecoder` and send what fails to
//! the dead-letter queue with its `SourcePosition::Kafka`. Broker errors are logged (rate
//! limited) and librdkafka reconnects by itself.
//!
//! **Offsets.** Auto-commit is off. A reader remembers, per epoch, the highest offset per
//! partition it emitted or dead-lettered, and commits `offset + 1` only when the runtime
//! reports the epoch reached every projection (`SourceReader::processed`; with history, and
//! is in committed history files). Without history a crash or a rebalance replays what was
//! read but not yet committed: delivery is **at-least-once** into the projections.
//!
//! **Exactly-once with history.** A reader reports its next offset per partition as its
//! checkpoint, which the history manifest stores with each file. Opened for a stream with
//! history (`Source::open_resuming`), the reader is assigned its partitions directly
//! (`partition % workers`, no group rebalancing) at the manifest's offsets, so after a crash
//! it reads exactly what history lacks; the group's committed offsets, which trail history,
//! only serve partitions history has not seen.
//!
//! **Lag.** librdkafka's statistics give each partition's consumer lag; [`KafkaSource::lag`]
//! exposes them to the query side.
//!
//! **Sink.** [`KafkaSink`] produces JSON messages keyed by a field of the record.

mod config;
mod context;
mod error;
mod lag;
mod offsets;
mod reader;
mod sink;
mod source;
#[cfg(test)]
mod tests;

pub use config::{KafkaEventTime, KafkaSinkConfig, KafkaSourceConfig, StartOffsets};
pub use error::KafkaError;
pub use lag::{PartitionLag, PartitionLagRow};
pub use sink::{KafkaSink, SEND_TIMEOUT};
pub use source::KafkaSource;
