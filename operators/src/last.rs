//! `last_per_key`: the value with the greatest event time per key.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use tributary_engine::{Collection, EventTime};

use crate::extremum::{hierarchical, largest};

/// The latest value per key by event time — not by arrival order.
pub trait LastPerKey<'scope, K, V> {
    /// One `(key, (ts, value))` per key: the value with the greatest event time `ts`. Ties on
    /// `ts` go to the greater value, so the result never depends on arrival order. A late
    /// event with an older `ts` does not displace the current last value; retracting the
    /// last value promotes the previous one.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::LastPerKey;
    ///
    /// timely::example(|scope| {
    ///     // arrival order: ts 20 first, then the older ts 10
    ///     scope.new_collection_from(vec![(1i64, (20i64, 7i64)), (1, (10, 9))]).1
    ///         .last_per_key()
    ///         .inspect(|x| println!("{x:?}")); // (1, (20, 7))
    /// });
    /// ```
    fn last_per_key(self) -> Collection<'scope, (K, (EventTime, V))>;
}

impl<'scope, K, V> LastPerKey<'scope, K, V> for Collection<'scope, (K, (EventTime, V))>
where
    K: ExchangeData + Hash,
    V: ExchangeData + Hash,
{
    fn last_per_key(self) -> Collection<'scope, (K, (EventTime, V))> {
        hierarchical(self, "LastPerKey", largest, largest)
    }
}
