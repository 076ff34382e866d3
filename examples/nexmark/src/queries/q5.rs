//! q5 — hot items: per hopping window (10 s, every 2 s), the auctions with the most bids.
//!
//! ```sql
//! SELECT AuctionBids.auction, AuctionBids.num, AuctionBids.starttime AS window_start
//! FROM (
//!     SELECT bid.auction, count(*) AS num, window_start AS starttime
//!     FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
//!     GROUP BY window_start, bid.auction
//! ) AS AuctionBids
//! JOIN (
//!     SELECT max(CountBids.num) AS maxn, CountBids.starttime
//!     FROM (
//!         SELECT count(*) AS num, window_start AS starttime
//!         FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
//!         GROUP BY bid.auction, window_start
//!     ) AS CountBids
//!     GROUP BY CountBids.starttime
//! ) AS MaxBids
//! ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.num >= MaxBids.maxn;
//! ```
//!
//! RisingWave's q5 (Flink's is the same), with the window start added to the output: the
//! standard query selects only `auction, num`, which leaves the rows of different windows
//! indistinguishable. Ties are kept (`>=`): every auction with the window's top count.
//!
//! Dataflow: `windowed` copies each bid into its five windows, `count_per_key` counts bids
//! per (auction, window) with the count in the difference, `max_per_key` keeps each
//! window's top count, and the counts are joined with it by window. Each new bid updates
//! its five counts and, when a count reaches the top, the window's maximum; the join
//! retracts the rows that fell behind.

use serde::{Deserialize, Serialize};
use tributary_engine::Collection;
use tributary_operators::{CountPerKey, JoinProjections, MaxPerKey, WindowSpec, Windowed};

use crate::Event;

/// Window length.
pub const SIZE_MS: i64 = 10_000;
/// Distance between window starts.
pub const SLIDE_MS: i64 = 2_000;

/// One output row of q5.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q5Row {
    /// A hot auction.
    pub auction: i64,
    /// Its bids in the window (the window's maximum).
    pub num: i64,
    /// The window's start, epoch milliseconds.
    pub window_start: i64,
}

/// q5 over `events`.
pub fn query(events: Collection<'_, Event>) -> Collection<'_, Q5Row> {
    let counts = events
        .flat_map(|e| e.into_bid().map(|b| (b.auction, (b.date_time, ()))))
        .windowed(WindowSpec::hopping(SIZE_MS, SLIDE_MS))
        .count_per_key()
        .map(|((auction, window), num)| (window.start, (auction, num)));
    let top = counts
        .clone()
        .map(|(start, (_, num))| (start, num))
        .max_per_key()
        .arrange_by_key();
    counts
        .join_projections(&top)
        .flat_map(|(window_start, ((auction, num), top))| {
            (num >= top).then_some(Q5Row {
                auction,
                num,
                window_start,
            })
        })
}
