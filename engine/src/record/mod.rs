//! The record and schema model.
//!
//! Pipelines over the user's own Rust types are the primary API: a stream of `T:
//! Deserialize` is decoded straight from JSON into `T` ([`decode_typed`]) and its Arrow
//! schema is derived from the type ([`derive_arrow_fields`]). Schema-driven sources (a
//! stream declared in configuration rather than in Rust) use the dynamic [`Row`], decoded by a
//! [`RowDecoder`] that visits the JSON once and writes typed [`Value`]s — no intermediate
//! `serde_json::Value` tree on the hot path.

mod decode;
mod event_time;
mod json;
mod schema;
mod typed;
mod value;

pub use decode::{DecodeError, FieldError, RowDecoder};
pub use event_time::{event_time_ms, parse_event_time_ms};
pub use json::{JsonDecoder, MetadataValue, json_kind};
pub use schema::{Column, ColumnType, StreamSchema};
pub use typed::{decode_typed, derive_arrow_fields};
pub use value::{Row, Value};
