//! The Nexmark queries, one file each, as dataflows from the event stream to output rows.
//!
//! Each module has a `query` function ([`QueryFn`](crate::run::QueryFn)) and its output row
//! type, and documents the SQL it implements (RisingWave's Nexmark SQL, which follows
//! Flink's). Results are maintained incrementally: a query's output collection is, at
//! every epoch, the SQL answer over the events so far, so the final result after the last
//! event is the batch SQL answer over all of them — which is what the tests check against
//! DataFusion.
//!
//! Time columns are epoch milliseconds. Windows are those of `tributary_operators::window`:
//! aligned to the Unix epoch, half-open `[start, end)`.
//!
//! Each multi-input query first narrows the event stream to the few fields it needs, then
//! branches: a timely stream read by two operators is cloned for each, so branching the
//! full events would copy every bid's strings twice.

pub mod q0;
pub mod q1;
pub mod q2;
pub mod q3;
pub mod q4;
pub mod q5;
pub mod q7;
pub mod q8;

use std::fmt;
use std::str::FromStr;

use tributary_engine::RuntimeConfig;

use crate::run::{Measurement, measure};
use crate::{NexmarkError, NexmarkGenerator};

/// The implemented queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Query {
    /// Pass-through of bids.
    Q0,
    /// Bid prices converted to euros.
    Q1,
    /// Bids on every 123rd auction.
    Q2,
    /// Local item suggestion: people in OR, ID or CA selling in category 10.
    Q3,
    /// Average winning bid per category.
    Q4,
    /// Hot items: the auctions with the most bids per hopping window.
    Q5,
    /// The highest bid per tumbling window.
    Q7,
    /// New users: people who opened an auction in the tumbling window they registered in.
    Q8,
}

impl Query {
    /// Every implemented query, in order.
    pub const ALL: [Query; 8] = [
        Query::Q0,
        Query::Q1,
        Query::Q2,
        Query::Q3,
        Query::Q4,
        Query::Q5,
        Query::Q7,
        Query::Q8,
    ];

    /// The query's name, `q0` … `q8`.
    pub fn name(self) -> &'static str {
        match self {
            Query::Q0 => "q0",
            Query::Q1 => "q1",
            Query::Q2 => "q2",
            Query::Q3 => "q3",
            Query::Q4 => "q4",
            Query::Q5 => "q5",
            Query::Q7 => "q7",
            Query::Q8 => "q8",
        }
    }

    /// Flink's published throughput per core on this query (Flink 1.13, 100M events), the
    /// reference issue 7 compares against: events per second per core.
    pub fn flink_events_per_second_per_core(self) -> f64 {
        match self {
            // "q0–q3 about 152–175K": the midpoint.
            Query::Q0 | Query::Q1 | Query::Q2 | Query::Q3 => 163_500.0,
            Query::Q4 => 34_000.0,
            Query::Q5 => 22_000.0,
            Query::Q7 => 12_000.0,
            Query::Q8 => 146_000.0,
        }
    }

    /// Runs the query over `generator`'s events and times it (see [`measure`]).
    pub fn measure(self, generator: &NexmarkGenerator, runtime: RuntimeConfig) -> Result<Measurement, NexmarkError> {
        match self {
            Query::Q0 => measure(q0::query, generator, runtime),
            Query::Q1 => measure(q1::query, generator, runtime),
            Query::Q2 => measure(q2::query, generator, runtime),
            Query::Q3 => measure(q3::query, generator, runtime),
            Query::Q4 => measure(q4::query, generator, runtime),
            Query::Q5 => measure(q5::query, generator, runtime),
            Query::Q7 => measure(q7::query, generator, runtime),
            Query::Q8 => measure(q8::query, generator, runtime),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Query {
    type Err = NexmarkError;

    /// `q5` or `Q5`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Query::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| NexmarkError::UnknownQuery(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for q in Query::ALL {
            assert_eq!(q.name().parse::<Query>().unwrap(), q);
        }
        assert_eq!("Q7".parse::<Query>().unwrap(), Query::Q7);
        let err = "q6".parse::<Query>().unwrap_err();
        assert!(err.to_string().contains("unknown query `q6`"), "{err}");
    }
}
