//! SQL over the live catalog and history: parse, guard, freeze, plan, execute.

mod engine;
mod error;
mod fast_path;
mod guard;
mod history;
mod key_filter;
mod params;
mod provider;
mod request;
mod system;

pub use engine::{QueryResult, SqlEngine};
pub use error::QueryError;
pub use history::{HISTORY_SCHEMA, HistorySources, HistoryTable};
pub use provider::ProjectionProvider;
pub use request::{QueryLimits, QueryRequest};
pub use system::SystemSources;
