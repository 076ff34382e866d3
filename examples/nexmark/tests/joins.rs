//! q3 and q4: incremental joins of auctions with people and with bids, over several seeds.

use tributary_nexmark::queries::{q3, q4};

use crate::support::{check, generator};

const Q3_SQL: &str = "
    SELECT P.name, P.city, P.state, A.id
    FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
    WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')";

const Q4_SQL: &str = "
    SELECT Q.category, AVG(Q.final) AS avg
    FROM (
        SELECT MAX(B.price) AS final, A.category
        FROM auction A, bid B
        WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
        GROUP BY A.id, A.category
    ) Q
    GROUP BY Q.category";

#[test]
fn q3_joins_local_sellers_with_their_auctions() {
    for (seed, workers) in [(1, 1), (2, 2), (3, 2)] {
        let rows = check(q3::query, Q3_SQL, &generator(20_000, seed, 10_000), workers);
        assert!(rows > 10, "seed {seed}: only {rows} rows");
    }
}

#[test]
fn q4_averages_the_final_price_per_category() {
    // 10,000 and 1,000 events per second: auctions stay open ~170 ms or ~1.7 s of event
    // time, so the share of bids inside an auction's lifetime differs.
    for (seed, rate, workers) in [(1, 10_000, 1), (2, 10_000, 2), (3, 1_000, 2), (4, 1_000, 1)] {
        let rows = check(q4::query, Q4_SQL, &generator(20_000, seed, rate), workers);
        assert_eq!(rows, 5, "seed {seed}: one row per category");
    }
}
