//! q5, q7, q8: hopping and tumbling windows, over several seeds and event-time rates.
//!
//! Window arithmetic in SQL: times are BIGINT ms (and positive), so `ts / n * n` is the
//! start of the aligned window of size `n` holding `ts`.

use std::sync::Arc;

use tributary_nexmark::queries::{q5, q7, q8};
use tributary_nexmark::{Bid, Event};

use crate::support::{Fixed, check, check_source, generator};

/// RisingWave's q5, with `HOP(bid, date_time, 2 s, 10 s)` spelled out: each bid in the five
/// windows starting at its 2 s slot and the four before.
const Q5_SQL: &str = "
    WITH hop AS (
        SELECT auction, (date_time / 2000) * 2000 - k.i * 2000 AS window_start
        FROM bid CROSS JOIN (SELECT column1 AS i FROM (VALUES (0), (1), (2), (3), (4))) AS k
    ),
    auction_bids AS (
        SELECT auction, count(*) AS num, window_start FROM hop GROUP BY window_start, auction
    ),
    max_bids AS (
        SELECT max(num) AS maxn, window_start FROM auction_bids GROUP BY window_start
    )
    SELECT a.auction, a.num, a.window_start
    FROM auction_bids a JOIN max_bids m ON a.window_start = m.window_start AND a.num >= m.maxn";

/// RisingWave's q7, with `TUMBLE(bid, date_time, 10 s)` spelled out.
const Q7_SQL: &str = "
    SELECT B.auction, B.price, B.bidder, B.date_time
    FROM bid B
    JOIN (
        SELECT MAX(price) AS maxprice, window_end
        FROM (SELECT price, (date_time / 10000) * 10000 + 10000 AS window_end FROM bid) t
        GROUP BY window_end
    ) B1 ON B.price = B1.maxprice
    WHERE B.date_time BETWEEN B1.window_end - 10000 AND B1.window_end";

/// RisingWave's q8, with `TUMBLE(…, 10 s)` spelled out and the `GROUP BY`s as `DISTINCT`.
const Q8_SQL: &str = "
    SELECT P.id, P.name, P.window_start
    FROM (SELECT DISTINCT id, name, (date_time / 10000) * 10000 AS window_start FROM person) P
    JOIN (SELECT DISTINCT seller, (date_time / 10000) * 10000 AS window_start FROM auction) A
    ON P.id = A.seller AND P.window_start = A.window_start";

#[test]
fn q5_finds_the_hot_auctions_of_each_hopping_window() {
    for (seed, rate, workers) in [(1, 10_000, 1), (2, 10_000, 2), (3, 2_000, 2)] {
        let rows = check(q5::query, Q5_SQL, &generator(20_000, seed, rate), workers);
        assert!(rows >= 5, "seed {seed}: at least one row per window, got {rows}");
    }
}

#[test]
fn q7_finds_the_highest_bids_of_each_tumbling_window() {
    // 1,428 events per second puts bids exactly on window boundaries (event 14,286 at
    // +10,000 ms); whether one ties a window's maximum is left to chance here, and tested
    // on purpose below.
    for (seed, rate, workers) in [(1, 1_428, 1), (2, 1_428, 2), (3, 1_000, 2), (4, 10_000, 1)] {
        let rows = check(q7::query, Q7_SQL, &generator(20_000, seed, rate), workers);
        assert!(rows >= 1, "seed {seed}: no rows");
    }
}

#[test]
fn q8_finds_people_selling_in_their_first_window() {
    for (seed, rate, workers) in [(1, 1_000, 1), (2, 1_000, 2), (3, 500, 2)] {
        let rows = check(q8::query, Q8_SQL, &generator(20_000, seed, rate), workers);
        assert!(rows >= 2, "seed {seed}: only {rows} rows");
    }
}

/// A bid at `ts` ms for `price`.
fn bid(auction: i64, price: i64, ts: i64) -> Event {
    Event::Bid(Bid {
        auction,
        bidder: 1_000 + auction,
        price,
        channel: "Google".into(),
        url: "https://www.nexmark.com/a/b/c/item.htm?query=1".into(),
        date_time: ts,
        extra: String::new(),
    })
}

#[test]
fn q7_matches_a_bid_on_the_window_end_as_the_inclusive_between_does() {
    // Window [0, 10 s) peaks at 500; the bid at exactly 10 s also bids 500, so the
    // `BETWEEN end - 10 s AND end` of the first window takes it too. Window [10 s, 20 s)
    // peaks at 900.
    let events = vec![
        bid(1, 200, 1_000),
        bid(2, 500, 5_000),
        bid(3, 500, 10_000),
        bid(4, 900, 12_000),
        bid(5, 100, 19_999),
    ];
    for workers in [1, 2] {
        let source = Fixed(Arc::new(events.clone()));
        let rows = check_source(q7::query, Q7_SQL, &source, events.clone(), workers);
        assert_eq!(rows, 3, "the 500 at 5 s, the 500 at 10 s and the 900");
    }
}
