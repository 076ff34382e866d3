//! # Tributary engine
//!
//! The runtime every Tributary pipeline runs on. A pipeline is a Rust function that, on each
//! timely worker, turns [`source::Source`]s into differential collections of the user's own
//! types, transforms them with operators (see the `tributary-operators` crate), and declares
//! some collections as **projections** — tables that SQL reads while they change.
//!
//! ```text
//!  Source ──open()──> SourceReader (per worker) ──poll()──> timely input (epoch-tagged)
//!                                                              │ differential operators
//!                                                              ▼
//!                          LiveCatalog <── report_frontier ── ProjectionSink (per worker)
//!                               │  applies every projection up to one common frontier
//!                               ▼
//!                       CatalogRead { as_of } ──> queries (DataFusion)
//! ```
//!
//! Modules:
//! * [`record`] — schemas, the dynamic [`record::Row`], JSON decoding with per-field errors,
//!   Arrow schemas derived from serde types;
//! * [`time`] — epochs (logical time), event time and watermarks;
//! * [`source`] — the source contract, source positions, the dead-letter queue and ingest
//!   counters;
//! * [`ingest`] — HTTP ingest into any stream: body splitting, decoding, tickets;
//! * [`pipeline`] — the builder users write pipelines against;
//! * [`export`] — collection updates out of the dataflow, complete epochs only, never blocking;
//! * [`delivery`] — actions, action sinks and the delivery log behind `system.actions`;
//! * [`live`] — projection tables and the consistent catalog;
//! * [`runtime`] — worker threads, epochs, backpressure, shutdown;
//! * [`history`] — the history contract (stores, writers, the manifest).
#![deny(missing_docs)]

pub mod delivery;
mod error;
pub mod export;
pub mod history;
pub mod ingest;
pub mod live;
pub mod pipeline;
pub mod record;
pub mod runtime;
pub mod source;
pub mod time;

pub use error::EngineError;
pub use live::{
    CatalogRead, ChangeBatch, FrozenBatches, FrozenTable, LiveCatalog, LiveTable, Subscribed, Subscription,
    SubscriptionClosed,
};
pub use pipeline::{Collection, Pipeline, ProjectionSpec};
pub use runtime::{RunningPipeline, Runtime, RuntimeConfig, ShutdownHandle};
pub use time::{Epoch, EventTime, Watermark};

/// Re-exported so pipelines use the exact versions the engine was built with.
pub use differential_dataflow;
pub use timely;
