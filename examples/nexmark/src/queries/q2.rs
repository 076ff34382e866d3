//! q2 — selection: the bids on every 123rd auction.
//!
//! ```sql
//! SELECT auction, price FROM bid WHERE auction % 123 = 0;
//! ```
//!
//! (The original Nexmark q2 names five auction ids; the modulo form is RisingWave's and
//! Flink's, and selects a fixed share of the bids whatever the data size.)

use serde::{Deserialize, Serialize};
use tributary_engine::Collection;

use crate::Event;

/// The selected auctions are the multiples of this.
pub const AUCTION_MODULUS: i64 = 123;

/// One output row of q2.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q2Row {
    /// The auction bid on.
    pub auction: i64,
    /// Price, cents.
    pub price: i64,
}

/// q2 over `events`.
pub fn query(events: Collection<'_, Event>) -> Collection<'_, Q2Row> {
    events.flat_map(|e| {
        e.into_bid()
            .filter(|b| b.auction % AUCTION_MODULUS == 0)
            .map(|b| Q2Row {
                auction: b.auction,
                price: b.price,
            })
    })
}
