//! `avg_per_key`: the mean of values per key.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use ordered_float::OrderedFloat;
use tributary_engine::Collection;

use crate::{AggregatePerKey, Summand};

/// Averages values per key.
pub trait AvgPerKey<'scope, K> {
    /// One `(key, mean)` per key with at least one value; the mean is computed from an exact
    /// sum, so it does not depend on arrival order.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::AvgPerKey;
    ///
    /// timely::example(|scope| {
    ///     scope.new_collection_from(vec![(1i64, 1i64), (1, 2)]).1
    ///         .avg_per_key()
    ///         .inspect(|((_, avg), _, _)| assert_eq!(avg.0, 1.5));
    /// });
    /// ```
    fn avg_per_key(self) -> Collection<'scope, (K, OrderedFloat<f64>)>;
}

impl<'scope, K, V> AvgPerKey<'scope, K> for Collection<'scope, (K, V)>
where
    K: ExchangeData + Hash,
    V: Summand + Clone + 'static,
{
    fn avg_per_key(self) -> Collection<'scope, (K, OrderedFloat<f64>)> {
        self.aggregate_per_key()
            .flat_map(|(k, a)| a.avg().map(|m| (k, OrderedFloat(m))))
    }
}
