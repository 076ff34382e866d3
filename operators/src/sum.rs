//! `sum_per_key`: the exact sum of values per key.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

use crate::{AggregatePerKey, ExactSum, Summand};

/// Sums values per key, exactly.
pub trait SumPerKey<'scope, K> {
    /// One `(key, sum)` per key with at least one value.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{OrderedFloat, SumPerKey};
    ///
    /// timely::example(|scope| {
    ///     scope.new_collection_from(vec![(1i64, OrderedFloat(0.1)), (1, OrderedFloat(0.2))]).1
    ///         .sum_per_key()
    ///         .inspect(|((k, s), _, _)| assert_eq!((*k, s.to_f64()), (1, 0.3)));
    /// });
    /// ```
    fn sum_per_key(self) -> Collection<'scope, (K, ExactSum)>;
}

impl<'scope, K, V> SumPerKey<'scope, K> for Collection<'scope, (K, V)>
where
    K: ExchangeData + Hash,
    V: Summand + Clone + 'static,
{
    fn sum_per_key(self) -> Collection<'scope, (K, ExactSum)> {
        // Carries (count, sum) so a key whose values sum to zero still has a row.
        self.aggregate_per_key().map(|(k, a)| (k, a.sum))
    }
}
