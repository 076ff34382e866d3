//! Reference pipelines, shared by the CLI, the examples, the tests and the benchmarks.

pub mod iot;
