//! `enrich_with`: stream ⋈ table enrichment (order ⋈ product), as a left outer join.
//!
//! Every row of the stream appears in the result exactly as often as in the input: with
//! `Some(value)` for each value its key has in the table, or once with `None` while the key
//! is absent. Differential maintains it incrementally in both directions: an order whose
//! product is not there yet appears as `(order, None)` and is corrected to
//! `(order, Some(product))` at the epoch the product arrives; a product update retracts
//! `(order, Some(old))` and inserts `(order, Some(new))` for every existing order; deleting
//! the product turns them back into `(order, None)`.
//!
//! The outer part is `stream − (stream ⋈ present keys)`, tagged `None`. It uses the table's
//! distinct-key index rather than counting matches, so a key with several values still
//! yields exactly one `None` row when it disappears, and retractions cancel exactly. Within
//! one epoch the output may carry a `(row, None)` insertion and its retraction as separate
//! updates; they cancel in any arrangement or projection downstream (`consolidate()` merges
//! them if a consumer reads raw updates).
//!
//! Cost per update: a stream row is arranged once here (state: the stream's rows, needed to
//! re-enrich them when the table changes) and looked up in the table's two indexes; a table
//! update costs one lookup per stream row with that key plus one output row each. The table
//! side is not copied: every `enrich_with` against the same [`Table`] reads the same indexes.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

use super::Table;

/// Enrichment of a stream with a shared table.
pub trait EnrichWith<'scope, O> {
    /// `(row, Some(value))` for each value of the table at `key(row)`, or `(row, None)` while
    /// the table has no value at that key — a left outer join, updated as the table changes.
    ///
    /// One `arrange_by_key()` of the products serves both joins below (and any number more):
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{EnrichWith, Table};
    ///
    /// timely::example(|scope| {
    ///     // (product_id, price in cents)
    ///     let products = scope.new_collection_from(vec![(1u32, 4_500i64), (2, 19_900)]).1;
    ///     let products = Table::new(products.arrange_by_key()); // arranged once
    ///
    ///     // (order_id, product_id): order 12 names a product that does not exist (yet)
    ///     let orders = scope.new_collection_from(vec![(10u64, 1u32), (11, 2), (12, 9)]).1;
    ///     // (return_id, product_id)
    ///     let returns = scope.new_collection_from(vec![(70u64, 2u32)]).1;
    ///
    ///     orders.enrich_with(&products, |(_, product)| *product)
    ///         .consolidate() // the outer part may carry cancelling `None` updates
    ///         .inspect(|(row, _, _)| {
    ///             assert!([((10, 1), Some(4_500)), ((11, 2), Some(19_900)), ((12, 9), None)].contains(row))
    ///         });
    ///     returns.enrich_with(&products, |(_, product)| *product)
    ///         .consolidate()
    ///         .inspect(|(row, _, _)| assert_eq!(row, &((70, 2), Some(19_900))));
    /// });
    /// ```
    fn enrich_with<K, V, L>(self, table: &Table<'scope, K, V>, key: L) -> Collection<'scope, (O, Option<V>)>
    where
        K: ExchangeData + Hash,
        V: ExchangeData,
        L: Fn(&O) -> K + 'static;
}

impl<'scope, O> EnrichWith<'scope, O> for Collection<'scope, O>
where
    O: ExchangeData,
{
    fn enrich_with<K, V, L>(self, table: &Table<'scope, K, V>, key: L) -> Collection<'scope, (O, Option<V>)>
    where
        K: ExchangeData + Hash,
        V: ExchangeData,
        L: Fn(&O) -> K + 'static,
    {
        let keyed = self.map(move |row| (key(&row), row)).arrange_by_key_named("EnrichWith");
        let matched = keyed.clone().join_core(table.values().clone(), |_, row, value| {
            Some((row.clone(), Some(value.clone())))
        });
        let found = keyed
            .clone()
            .join_core(table.keys().clone(), |_, row, _| Some(row.clone()));
        let missing = keyed
            .as_collection(|_, row| row.clone())
            .concat(found.negate())
            .map(|row| (row, None));
        matched.concat(missing)
    }
}
