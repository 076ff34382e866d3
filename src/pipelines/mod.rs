//! Reference pipelines, shared by the CLI, the examples, the tests and the benchmarks.

pub mod activity_feed;
pub mod iot;
pub mod notifications;
pub mod order_analytics;
mod source;

pub use source::EventSource;
