//! Entity tables: the current state of each entity from a change stream, and distinct
//! counts per key.

mod count_distinct;
mod upsert;

pub use count_distinct::CountDistinctPerKey;
pub use upsert::Upsert;
