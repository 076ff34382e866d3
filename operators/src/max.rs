//! `max_per_key`: the largest value per key, retraction-aware.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

use crate::extremum::{hierarchical, largest};

/// The largest value per key.
pub trait MaxPerKey<'scope, K, V> {
    /// One `(key, max)` per key with at least one value. Retracting the maximum promotes the
    /// next largest value.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{MaxPerKey, OrderedFloat};
    ///
    /// timely::example(|scope| {
    ///     scope.new_collection_from(vec![(1i64, OrderedFloat(2.5)), (1, OrderedFloat(-1.0))]).1
    ///         .max_per_key()
    ///         .inspect(|x| println!("{x:?}")); // (1, 2.5)
    /// });
    /// ```
    fn max_per_key(self) -> Collection<'scope, (K, V)>;
}

impl<'scope, K, V> MaxPerKey<'scope, K, V> for Collection<'scope, (K, V)>
where
    K: ExchangeData + Hash,
    V: ExchangeData + Hash,
{
    fn max_per_key(self) -> Collection<'scope, (K, V)> {
        hierarchical(self, "MaxPerKey", largest, largest)
    }
}
