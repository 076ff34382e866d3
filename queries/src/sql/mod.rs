//! SQL over the live catalog: parse, guard, freeze, plan, execute.

mod engine;
mod error;
mod guard;
mod key_filter;
mod params;
mod provider;
mod request;
mod system;

pub use engine::{QueryResult, SqlEngine};
pub use error::QueryError;
pub use provider::ProjectionProvider;
pub use request::{QueryLimits, QueryRequest};
pub use system::SystemSources;
