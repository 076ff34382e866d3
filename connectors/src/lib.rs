//! # Tributary connectors
//!
//! Sources and sinks, one module per connector, each behind the engine's
//! [`Source`](tributary_engine::source::Source) contract with a typed serde config.
//!
//! * [`generator`] — the deterministic IoT sensor generator, the embedded default source of
//!   `tributary demo` and of the benchmarks.
#![deny(missing_docs)]

pub mod generator;
