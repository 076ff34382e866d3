//! q0, q1, q2: per-bid maps and filters.

use tributary_nexmark::queries::{q0, q1, q2};

use crate::support::{check, generator};

#[test]
fn q0_passes_every_bid_through() {
    let g = generator(20_000, 1, 10_000);
    for workers in [1, 2] {
        let rows = check(
            q0::query,
            "SELECT auction, bidder, price, date_time FROM bid",
            &g,
            workers,
        );
        assert_eq!(rows, 18_400, "46 bids in every 50 events");
    }
}

#[test]
fn q1_converts_prices_exactly_as_sql_does() {
    let g = generator(20_000, 2, 10_000);
    let rows = check(
        q1::query,
        "SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid",
        &g,
        2,
    );
    assert_eq!(rows, 18_400);
}

#[test]
fn q2_selects_every_123rd_auction() {
    let g = generator(20_000, 3, 10_000);
    for workers in [1, 2] {
        let rows = check(
            q2::query,
            "SELECT auction, price FROM bid WHERE auction % 123 = 0",
            &g,
            workers,
        );
        assert!(rows > 10, "only {rows} rows: the case would be vacuous");
    }
}
