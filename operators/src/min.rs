//! `min_per_key`: the smallest value per key, retraction-aware.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

use crate::extremum::{hierarchical, smallest};

/// The smallest value per key.
pub trait MinPerKey<'scope, K, V> {
    /// One `(key, min)` per key with at least one value. Retracting the minimum promotes the
    /// next smallest value.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::MinPerKey;
    ///
    /// timely::example(|scope| {
    ///     scope.new_collection_from(vec![(1i64, 5i64), (1, 3), (2, 9)]).1
    ///         .min_per_key()
    ///         .inspect(|x| println!("{x:?}")); // (1, 3) and (2, 9)
    /// });
    /// ```
    fn min_per_key(self) -> Collection<'scope, (K, V)>;
}

impl<'scope, K, V> MinPerKey<'scope, K, V> for Collection<'scope, (K, V)>
where
    K: ExchangeData + Hash,
    V: ExchangeData + Hash,
{
    fn min_per_key(self) -> Collection<'scope, (K, V)> {
        hierarchical(self, "MinPerKey", smallest, smallest)
    }
}
