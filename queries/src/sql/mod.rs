//! SQL over the live catalog and history: parse, guard, snapshot, plan, execute.

mod engine;
mod error;
mod guard;
mod history;
mod system;

pub use engine::{QueryResult, SqlEngine};
pub use error::QueryError;
pub use history::{HISTORY_SCHEMA, HistorySources, HistoryTable};
pub use system::SystemSources;
