//! Joins, maintained incrementally over shared arrangements.
//!
//! A join needs each side indexed by the join key (an *arrangement*). Building one per join
//! would duplicate the table's whole state for every stream joined against it, so the table
//! side is arranged once — a [`Table`] wraps one `arrange_by_key()` — and every
//! [`enrich_with`](EnrichWith::enrich_with) and
//! [`join_projections`](JoinProjections::join_projections) reads that same index.

mod enrich;
mod projections;
mod table;

pub use enrich::EnrichWith;
pub use projections::JoinProjections;
pub use table::{KeyArrangement, Table, TableArrangement};
