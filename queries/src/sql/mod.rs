//! SQL over the live catalog: parse, guard, snapshot, plan, execute.

mod engine;
mod error;
mod guard;
mod system;

pub use engine::{QueryResult, SqlEngine};
pub use error::QueryError;
pub use system::SystemSources;
