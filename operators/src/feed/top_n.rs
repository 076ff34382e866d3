//! `top_n`: the global N items with the greatest sort column (a global feed, a leaderboard).
//!
//! This is [`latest_n_per_key`](super::LatestNPerKey) over a single key. The hierarchical
//! reduction keys its first four stages by hash bucket, so those stages — and the state that
//! holds every item — are spread over all workers; only the last stage, which merges 16
//! lists of at most N items, runs on one worker.
//!
//! Cost per update: at most five `reduce` evaluations over at most `16 · N` items each.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

use super::top::top_n_per_key;

/// The N greatest items of a whole collection.
pub trait TopN<'scope, S, V> {
    /// The `n` items `(sort, item)` greatest in `(sort, item)` order: ties on `sort` go to
    /// the greater `item`. Same semantics as
    /// [`latest_n_per_key`](crate::LatestNPerKey::latest_n_per_key) with one key.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::TopN;
    ///
    /// timely::example(|scope| {
    ///     // (posted_at, post_id)
    ///     scope.new_collection_from(vec![(10i64, 1u64), (30, 2), (20, 3), (30, 4)]).1
    ///         .top_n(3)
    ///         .inspect(|(row, _, _)| assert!([(30, 4), (30, 2), (20, 3)].contains(row)));
    /// });
    /// ```
    fn top_n(self, n: usize) -> Collection<'scope, (S, V)>;
}

impl<'scope, S, V> TopN<'scope, S, V> for Collection<'scope, (S, V)>
where
    S: ExchangeData + Hash,
    V: ExchangeData + Hash,
{
    fn top_n(self, n: usize) -> Collection<'scope, (S, V)> {
        top_n_per_key(self.map(|item| ((), item)), "TopN", n).map(|((), item)| item)
    }
}
