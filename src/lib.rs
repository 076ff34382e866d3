//! # Tributary
//!
//! A stream-processing dataflow engine: sources feed a timely/differential dataflow that
//! incrementally maintains projections, and SQL over HTTP reads them live.
//!
//! This crate is the facade: it re-exports the workspace crates under short names and holds
//! the reference pipelines the CLI runs.
//!
//! * [`engine`] — records, schemas, time, the pipeline builder and the worker runtime;
//! * [`operators`] — keyed projections as extension traits on collections;
//! * [`connectors`] — sources and sinks (the sensor generator today);
//! * [`queries`] — DataFusion over live projections and the HTTP API;
//! * [`pipelines`] — the reference pipelines (`iot`, `activity_feed`, `order_analytics`, `notifications`).
#![deny(missing_docs)]

pub mod pipelines;

pub use tributary_connectors as connectors;
pub use tributary_engine as engine;
pub use tributary_operators as operators;
pub use tributary_queries as queries;
