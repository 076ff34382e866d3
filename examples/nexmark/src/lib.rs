//! # Nexmark on Tributary
//!
//! [Nexmark](https://datalab.cs.pdx.edu/niagaraST/NEXMark/) is the standard benchmark of
//! stream processors: an online auction whose people, auctions and bids arrive as one event
//! stream ([`generator`]), and a set of queries over it ([`queries`]), each written here
//! with Tributary's Rust API (differential collections and `tributary-operators`).
//!
//! * [`generator`] — a deterministic generator following the Nexmark rules, split across
//!   workers by event index;
//! * [`queries`] — q0, q1, q2, q3, q4, q5, q7 and q8, one file each, with the semantics of
//!   the RisingWave/Flink Nexmark SQL (documented per query where streaming leaves a choice);
//! * [`run`] — running a query to completion: measuring throughput (the `tributary-nexmark`
//!   binary) or collecting its final result (the batch-SQL correctness tests).
//!
//! ```
//! use tributary_engine::RuntimeConfig;
//! use tributary_nexmark::{NexmarkConfig, NexmarkGenerator, queries, run};
//!
//! let generator = NexmarkGenerator::try_new(NexmarkConfig::with_events(5_000, 1))?;
//! let rows = run::collect(queries::q2::query, &generator, RuntimeConfig::with_workers(2))?;
//! assert!(rows.iter().all(|r| r.auction % 123 == 0));
//! # Ok::<(), tributary_nexmark::NexmarkError>(())
//! ```
#![deny(missing_docs)]

pub mod generator;
pub mod queries;
pub mod run;

pub use generator::{Auction, Bid, Event, NexmarkConfig, NexmarkGenerator, Person};
pub use queries::Query;

use tributary_engine::EngineError;

/// What can go wrong configuring or running a Nexmark query.
#[derive(Debug, thiserror::Error)]
pub enum NexmarkError {
    /// A query name that is not one of the implemented ones.
    #[error("unknown query `{0}`; expected one of q0, q1, q2, q3, q4, q5, q7, q8")]
    UnknownQuery(String),
    /// A generator setting out of range.
    #[error("invalid Nexmark configuration: {0}")]
    Config(String),
    /// The pipeline failed to build or run.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A query's final result held a row a negative number of times: a bug in the query.
    #[error("the final result holds {row} {count} times")]
    NegativeMultiplicity {
        /// The row, debug-printed.
        row: String,
        /// Its (negative) multiplicity.
        count: isize,
    },
}
