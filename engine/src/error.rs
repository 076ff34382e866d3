//! The engine's error type: one enum, one variant per category of failure.

use thiserror::Error;

use crate::record::DecodeError;

/// Everything that can go wrong while declaring or running a pipeline.
#[derive(Debug, Error)]
pub enum EngineError {
    /// A schema declaration is inconsistent (duplicate column, unknown event-time column, ...).
    #[error("invalid schema for stream `{stream}`: {reason}")]
    Schema {
        /// The stream whose schema was rejected.
        stream: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An Arrow schema could not be derived from a Rust type.
    #[error("cannot derive an Arrow schema for `{type_name}`: {reason}")]
    SchemaDerivation {
        /// The Rust type.
        type_name: &'static str,
        /// The underlying `serde_arrow` message.
        reason: String,
    },
    /// A record could not be decoded (carried as data in the pipeline; surfaced here for
    /// callers that decode outside a dataflow).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The pipeline declared two things with one name.
    #[error("{kind} `{name}` is declared twice")]
    DuplicateName {
        /// What kind of object (stream, projection).
        kind: &'static str,
        /// The repeated name.
        name: String,
    },
    /// The pipeline used a name the engine keeps for itself.
    #[error("{kind} name `{name}` is reserved: {why}")]
    ReservedName {
        /// What kind of object (stream).
        kind: &'static str,
        /// The name.
        name: String,
        /// What the engine uses it for.
        why: &'static str,
    },
    /// A projection was registered with two different row types on different workers.
    #[error("projection `{0}` was registered with conflicting row types")]
    ProjectionTypeMismatch(String),
    /// A runtime configuration value is out of range.
    #[error("invalid runtime configuration: {0}")]
    Config(String),
    /// A source failed to start or failed permanently.
    #[error("source `{source_name}` failed: {reason}")]
    Source {
        /// The source's name.
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// Converting projection rows to Arrow failed.
    #[error("cannot convert projection `{projection}` to Arrow: {reason}")]
    ArrowConversion {
        /// The projection being read.
        projection: String,
        /// The underlying message.
        reason: String,
    },
    /// A projection declares a key column its rows do not have.
    #[error("projection `{projection}` declares key column `{column}`, which is not one of its columns")]
    UnknownKeyColumn {
        /// The projection.
        projection: String,
        /// The column it named.
        column: String,
    },
    /// A key given as a JSON value does not decode into the projection's key type.
    #[error("key {key} does not decode into the key type of projection `{projection}`: {reason}")]
    KeyDecode {
        /// The projection looked up.
        projection: String,
        /// The key, as JSON.
        key: String,
        /// The serde message.
        reason: String,
    },
    /// Writing a stream's history failed.
    #[error("history of stream `{stream}`: {reason}")]
    History {
        /// The stream.
        stream: String,
        /// What went wrong.
        reason: String,
    },
    /// Timely failed to start or a worker panicked.
    #[error("dataflow runtime failed: {0}")]
    Runtime(String),
}
