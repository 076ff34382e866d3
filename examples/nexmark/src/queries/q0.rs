//! q0 — pass-through: every bid, unchanged. Measures the cost of the source and the
//! dataflow's plumbing.
//!
//! ```sql
//! SELECT auction, bidder, price, date_time FROM bid;
//! ```

use serde::{Deserialize, Serialize};
use tributary_engine::Collection;

use crate::Event;

/// One output row of q0.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q0Row {
    /// The auction bid on.
    pub auction: i64,
    /// The bidder.
    pub bidder: i64,
    /// Price, cents.
    pub price: i64,
    /// Event time, epoch milliseconds.
    pub date_time: i64,
}

/// q0 over `events`.
pub fn query(events: Collection<'_, Event>) -> Collection<'_, Q0Row> {
    events.flat_map(|e| {
        e.into_bid().map(|b| Q0Row {
            auction: b.auction,
            bidder: b.bidder,
            price: b.price,
            date_time: b.date_time,
        })
    })
}
