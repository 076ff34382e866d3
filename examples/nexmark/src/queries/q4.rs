//! q4 — average closing price per category.
//!
//! ```sql
//! SELECT Q.category, AVG(Q.final) AS avg
//! FROM (
//!     SELECT MAX(B.price) AS final, A.category
//!     FROM auction A, bid B
//!     WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
//!     GROUP BY A.id, A.category
//! ) Q
//! GROUP BY Q.category;
//! ```
//!
//! **Which auctions count.** The original Nexmark q4 averages the winning bids of *closed*
//! auctions. RisingWave's and Flink's Nexmark SQL (above), which we follow, drop the
//! "closed" condition: an auction's final price is the highest bid placed while it was open
//! (`B.date_time BETWEEN A.date_time AND A.expires`, both ends inclusive), maintained as
//! bids arrive, and the reserve price is ignored. Once every event is in, every auction of
//! the generated data has closed in event time, so the final answer is the closed-auction
//! one.
//!
//! Dataflow: bids join the auctions arranged by id (a bid may arrive before its auction:
//! bid ids lead auction ids by up to 10), the time condition filters the pairs,
//! `max_per_key` keeps each auction's highest bid (retraction-aware, so it is maintained as
//! the maximum rises), and `aggregate_per_key` averages the maxima per category with the
//! count and an exact sum carried in differential's difference.
//!
//! The average is `sum / count` with the sum exact (prices are whole cents), computed as
//! `(sum as f64) / (count as f64)` — what DataFusion's `AVG` over `BIGINT` computes as long
//! as the sum stays below 2^53 cents, so the two agree bit for bit.

use serde::{Deserialize, Serialize};
use tributary_engine::Collection;
use tributary_operators::{Aggregate, AggregatePerKey, ExactSum, JoinProjections, MaxPerKey, OrderedFloat};

use crate::Event;

/// One output row of q4.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q4Row {
    /// The category.
    pub category: i64,
    /// The average final price of its auctions, cents.
    pub avg: OrderedFloat<f64>,
}

/// The fields q4 reads.
#[derive(Clone)]
enum Side {
    /// `(id, (opened, expires, category))`
    Auction(i64, (i64, i64, i64)),
    /// `(auction, (price, date_time))`
    Bid(i64, (i64, i64)),
}

impl Side {
    fn auction(self) -> Option<(i64, (i64, i64, i64))> {
        match self {
            Side::Auction(id, fields) => Some((id, fields)),
            Side::Bid(..) => None,
        }
    }

    fn bid(self) -> Option<(i64, (i64, i64))> {
        match self {
            Side::Bid(auction, fields) => Some((auction, fields)),
            Side::Auction(..) => None,
        }
    }
}

/// The mean of whole-cent prices from their count and exact sum.
fn average(a: &Aggregate) -> f64 {
    let cents = a.sum.0 / ExactSum::SCALE;
    cents as f64 / a.count as f64
}

/// q4 over `events`.
pub fn query(events: Collection<'_, Event>) -> Collection<'_, Q4Row> {
    let relevant = events.flat_map(|e| match e {
        Event::Auction(a) => Some(Side::Auction(a.id, (a.date_time, a.expires, a.category))),
        Event::Bid(b) => Some(Side::Bid(b.auction, (b.price, b.date_time))),
        Event::Person(_) => None,
    });
    let auctions = relevant.clone().flat_map(Side::auction).arrange_by_key();
    relevant
        .flat_map(Side::bid)
        .join_projections(&auctions)
        .flat_map(|(id, ((price, ts), (opened, expires, category)))| {
            (opened <= ts && ts <= expires).then_some(((id, category), price))
        })
        .max_per_key()
        .map(|((_, category), final_price)| (category, final_price))
        .aggregate_per_key()
        .map(|(category, a)| Q4Row {
            category,
            avg: OrderedFloat(average(&a)),
        })
}
