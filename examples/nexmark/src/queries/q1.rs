//! q1 — currency conversion: every bid with its price in euros.
//!
//! ```sql
//! SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid;
//! ```
//!
//! The price is a `DOUBLE`: `0.908 * price` as one IEEE multiplication of the price as
//! `f64`, which is what DataFusion computes for the SQL above (the literal is a `DOUBLE`,
//! the `BIGINT` price is cast), so the two agree bit for bit.

use serde::{Deserialize, Serialize};
use tributary_engine::Collection;
use tributary_operators::OrderedFloat;

use crate::Event;

/// Dollars to euros, the reference's rate.
pub const EURO_PER_DOLLAR: f64 = 0.908;

/// One output row of q1.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q1Row {
    /// The auction bid on.
    pub auction: i64,
    /// The bidder.
    pub bidder: i64,
    /// Price in euro cents.
    pub price: OrderedFloat<f64>,
    /// Event time, epoch milliseconds.
    pub date_time: i64,
}

/// q1 over `events`.
pub fn query(events: Collection<'_, Event>) -> Collection<'_, Q1Row> {
    events.flat_map(|e| {
        e.into_bid().map(|b| Q1Row {
            auction: b.auction,
            bidder: b.bidder,
            price: OrderedFloat(EURO_PER_DOLLAR * b.price as f64),
            date_time: b.date_time,
        })
    })
}
