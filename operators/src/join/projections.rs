//! `join_projections`: projection ⋈ projection on their key, incrementally.
//!
//! The right side is an existing arrangement (a [`Table`](crate::Table)'s values or any
//! `arrange_by_key()`), so it is shared with other joins; the left side is arranged here.
//! Cost per update: one index lookup of the key on the other side, plus one output row per
//! matching value (differential's `join_core`).

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

use super::TableArrangement;

/// Inner join of two keyed projections.
pub trait JoinProjections<'scope, K: ExchangeData + Hash, A> {
    /// `(key, (a, b))` for every `(key, a)` here and `(key, b)` in `other` — an inner join:
    /// a key missing on either side has no rows. With several values per key on a side,
    /// every pair appears (multiplicities multiply). Updates and retractions on either side
    /// update the result.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{JoinProjections, Table};
    ///
    /// timely::example(|scope| {
    ///     // (product_id, units sold) ⋈ (product_id, units in stock)
    ///     let sold = scope.new_collection_from(vec![(1u32, 5i64), (2, 7)]).1;
    ///     let stock = scope.new_collection_from(vec![(1u32, 40i64), (3, 2)]).1;
    ///     let stock = Table::new(stock.arrange_by_key());
    ///     sold.join_projections(stock.values())
    ///         .inspect(|(row, _, _)| assert_eq!(row, &(1, (5, 40))));
    /// });
    /// ```
    fn join_projections<B>(self, other: &TableArrangement<'scope, K, B>) -> Collection<'scope, (K, (A, B))>
    where
        B: ExchangeData;
}

impl<'scope, K, A> JoinProjections<'scope, K, A> for Collection<'scope, (K, A)>
where
    K: ExchangeData + Hash,
    A: ExchangeData,
{
    fn join_projections<B>(self, other: &TableArrangement<'scope, K, B>) -> Collection<'scope, (K, (A, B))>
    where
        B: ExchangeData,
    {
        self.join_core(other.clone(), |k, a, b| Some((k.clone(), (a.clone(), b.clone()))))
    }
}
