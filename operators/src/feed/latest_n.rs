//! `latest_n_per_key`: an activity feed per key — the N items with the greatest sort column.
//!
//! Rows are `(key, (sort, item))` without a rank. A rank would have to change for every
//! item below an insertion, so one new post would retract and re-insert up to N rows
//! downstream; without it, an insertion into a full feed changes exactly two rows (the new
//! item in, the N-th out) and a deletion two (the item out, the next one in). Readers order
//! a key's rows by `(sort, item)` descending to get rank 0 = newest.
//!
//! Cost per update (see `feed/top.rs`): at most five `reduce` evaluations over at most
//! `16 · N` items each, never the key's whole history.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

use super::top::top_n_per_key;

/// The N newest (greatest sort column) items per key.
pub trait LatestNPerKey<'scope, K, S, V> {
    /// For each key, the `n` items `(sort, item)` that are greatest in `(sort, item)` order:
    /// the greatest `sort` values, ties on `sort` going to the greater `item`, so the result
    /// depends only on the set of items, never on arrival order. An item present with
    /// multiplicity `m` fills `m` places (its row carries multiplicity up to `m`).
    /// Retracting an item of the feed (deleting a post) removes it and the next one moves
    /// up; a key with no items has no rows; `n = 0` yields nothing.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::LatestNPerKey;
    ///
    /// timely::example(|scope| {
    ///     // (user, (posted_at, post_id)), arriving out of time order
    ///     let posts = vec![(1u32, (30i64, 7u64)), (1, (10, 8)), (1, (20, 9)), (2, (5, 1))];
    ///     scope.new_collection_from(posts).1
    ///         .latest_n_per_key(2)
    ///         .inspect(|(row, _, _)| assert!([(1, (30, 7)), (1, (20, 9)), (2, (5, 1))].contains(row)));
    /// });
    /// ```
    fn latest_n_per_key(self, n: usize) -> Collection<'scope, (K, (S, V))>;
}

impl<'scope, K, S, V> LatestNPerKey<'scope, K, S, V> for Collection<'scope, (K, (S, V))>
where
    K: ExchangeData + Hash,
    S: ExchangeData + Hash,
    V: ExchangeData + Hash,
{
    fn latest_n_per_key(self, n: usize) -> Collection<'scope, (K, (S, V))> {
        top_n_per_key(self, "LatestNPerKey", n)
    }
}
