//! q7 — highest bid: per tumbling 10 s window, the bids at the window's highest price.
//!
//! ```sql
//! SELECT B.auction, B.price, B.bidder, B.date_time
//! FROM bid B
//! JOIN (
//!     SELECT MAX(price) AS maxprice, window_end AS date_time
//!     FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND)
//!     GROUP BY window_end
//! ) B1 ON B.price = B1.maxprice
//! WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time;
//! ```
//!
//! RisingWave's q7, followed to the letter. The maximum is over the half-open window
//! `[end − 10 s, end)`, but the `BETWEEN` that finds the bids at that price is inclusive
//! at both ends, so a bid placed exactly at a window's end also matches that window if its
//! price is the window's maximum (a bid can then appear twice, once per window). Flink's
//! q7 has the same shape with `TUMBLE_ROWTIME` (the end − 1 ms).
//!
//! Dataflow: `max_per_key` keeps each window's highest price; every bid is keyed by
//! `(window end, price)` for each window whose `BETWEEN` range holds it (one, or two at a
//! boundary) and joined with the maxima keyed the same way. When a window's maximum rises,
//! the join retracts the bids at the old one.

use serde::{Deserialize, Serialize};
use tributary_engine::Collection;
use tributary_operators::{JoinProjections, MaxPerKey, WindowSpec};

use crate::Event;

/// Window length.
pub const SIZE_MS: i64 = 10_000;

/// One output row of q7.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q7Row {
    /// The auction bid on.
    pub auction: i64,
    /// The window's highest price, cents.
    pub price: i64,
    /// The bidder.
    pub bidder: i64,
    /// The bid's event time, epoch milliseconds.
    pub date_time: i64,
}

/// The end of the tumbling window holding `ts`.
fn window_end(ts: i64) -> i64 {
    WindowSpec::tumbling(SIZE_MS)
        .windows_of(ts)
        .next()
        .map_or(ts, |w| w.end)
}

/// The window ends `end` (multiples of the size) with `end − size <= ts <= end`.
fn between_ends(ts: i64) -> impl Iterator<Item = i64> {
    let first = ts.div_euclid(SIZE_MS) * SIZE_MS + if ts.rem_euclid(SIZE_MS) == 0 { 0 } else { SIZE_MS };
    [first, first + SIZE_MS]
        .into_iter()
        .filter(move |end| *end - SIZE_MS <= ts)
}

/// q7 over `events`.
pub fn query(events: Collection<'_, Event>) -> Collection<'_, Q7Row> {
    let bids = events.flat_map(|e| e.into_bid().map(|b| (b.auction, b.bidder, b.price, b.date_time)));
    let maxima = bids
        .clone()
        .map(|(_, _, price, ts)| (window_end(ts), price))
        .max_per_key()
        .map(|top| (top, ()))
        .arrange_by_key();
    bids.flat_map(|(auction, bidder, price, ts)| between_ends(ts).map(move |end| ((end, price), (auction, bidder, ts))))
        .join_projections(&maxima)
        .map(|((_, price), ((auction, bidder, date_time), ()))| Q7Row {
            auction,
            price,
            bidder,
            date_time,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bid_on_a_boundary_falls_in_two_between_ranges() {
        assert_eq!(between_ends(20_000).collect::<Vec<_>>(), [20_000, 30_000]);
        assert_eq!(between_ends(20_001).collect::<Vec<_>>(), [30_000]);
        assert_eq!(between_ends(29_999).collect::<Vec<_>>(), [30_000]);
        assert_eq!(between_ends(-1).collect::<Vec<_>>(), [0]);
        assert_eq!(window_end(20_000), 30_000);
        assert_eq!(window_end(19_999), 20_000);
    }
}
