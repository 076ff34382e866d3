//! `windowed`: tumbling and hopping window assignment.
//!
//! Each record is copied into every window holding its event time: a `flat_map`, O(size /
//! slide) per update, no state. Because the windows of a record depend on nothing but its
//! own event time, a retraction reaches exactly the windows its insertion reached, and
//! out-of-order or late records update their (older) windows at the epoch they arrive in.

use differential_dataflow::ExchangeData;
use tributary_engine::{Collection, EventTime};

use super::spec::{Window, WindowSpec};

/// Assigns keyed, event-timed records to fixed windows.
pub trait Windowed<'scope, K, V> {
    /// Re-keys every `(key, (ts, value))` as `((key, window), (ts, value))` for each window of
    /// `spec` that holds `ts`, so that any keyed operator computes one row per key and window.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{CountPerKey, Window, WindowSpec, Windowed};
    ///
    /// timely::example(|scope| {
    ///     // sensor 1: two readings in the minute starting at 0, one in the next minute
    ///     scope.new_collection_from(vec![(1i64, (59_999i64, 7i64)), (1, (1_000, 8)), (1, (60_000, 9))]).1
    ///         .windowed(WindowSpec::tumbling(60_000))
    ///         .count_per_key()
    ///         .inspect(|(((_, w), n), _, _)| assert_eq!(*n, if w.start == 0 { 2 } else { 1 }));
    /// });
    /// ```
    fn windowed(self, spec: WindowSpec) -> Collection<'scope, ((K, Window), (EventTime, V))>;
}

impl<'scope, K, V> Windowed<'scope, K, V> for Collection<'scope, (K, (EventTime, V))>
where
    K: ExchangeData,
    V: ExchangeData,
{
    fn windowed(self, spec: WindowSpec) -> Collection<'scope, ((K, Window), (EventTime, V))> {
        self.flat_map(move |(k, (ts, v))| spec.windows_of(ts).map(move |w| ((k.clone(), w), (ts, v.clone()))))
    }
}
