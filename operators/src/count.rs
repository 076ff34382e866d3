//! `count_per_key`: the number of values per key.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use differential_dataflow::operators::CountTotal;
use tributary_engine::Collection;

/// Counts values per key.
pub trait CountPerKey<'scope, K> {
    /// One `(key, count)` per key with a positive count.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::CountPerKey;
    ///
    /// timely::example(|scope| {
    ///     scope.new_collection_from(vec![(7i64, 1i64), (7, 2), (9, 3)]).1
    ///         .count_per_key()
    ///         .inspect(|((key, n), _, _)| assert_eq!(*n, if *key == 7 { 2 } else { 1 }));
    /// });
    /// ```
    fn count_per_key(self) -> Collection<'scope, (K, i64)>;
}

impl<'scope, K, V> CountPerKey<'scope, K> for Collection<'scope, (K, V)>
where
    K: ExchangeData + Hash,
    V: Clone + 'static,
{
    fn count_per_key(self) -> Collection<'scope, (K, i64)> {
        // The count accumulates in the difference of the key arrangement: O(1) per update.
        self.map(|(k, _)| k).count_total().map(|(k, n)| (k, n as i64))
    }
}
