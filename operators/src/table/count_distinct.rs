//! `count_distinct_per_key`: how many distinct values each key has.
//!
//! `distinct` reduces each `(key, value)` pair to presence (a `reduce` over that one pair's
//! multiplicity, O(1) per update) and the count of present pairs per key travels in the
//! difference as in `count_per_key`, so an update never re-reads a key's values.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use differential_dataflow::operators::CountTotal;
use tributary_engine::Collection;

/// Counts distinct values per key.
pub trait CountDistinctPerKey<'scope, K> {
    /// One `(key, n)` per key with at least one present value, `n` the number of distinct
    /// values with a positive multiplicity. Duplicates count once; retracting the last copy
    /// of a value decrements `n`; a key whose values are all retracted disappears.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::CountDistinctPerKey;
    ///
    /// timely::example(|scope| {
    ///     // (page, visitor)
    ///     scope.new_collection_from(vec![(1u32, 7u64), (1, 7), (1, 8), (2, 7)]).1
    ///         .count_distinct_per_key()
    ///         .inspect(|((page, n), _, _)| assert_eq!(*n, if *page == 1 { 2 } else { 1 }));
    /// });
    /// ```
    fn count_distinct_per_key(self) -> Collection<'scope, (K, i64)>;
}

impl<'scope, K, V> CountDistinctPerKey<'scope, K> for Collection<'scope, (K, V)>
where
    K: ExchangeData + Hash,
    V: ExchangeData + Hash,
{
    fn count_distinct_per_key(self) -> Collection<'scope, (K, i64)> {
        self.distinct()
            .map(|(k, _)| k)
            .count_total()
            .map(|(k, n)| (k, n as i64))
    }
}
