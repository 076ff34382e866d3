//! `stats_per_key`: count, sum, mean, min, max and last value in one row per key.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use serde::{Deserialize, Serialize};
use tributary_engine::{Collection, EventTime};

use crate::{Aggregate, AggregatePerKey, LastPerKey, MaxPerKey, MinPerKey, Summand};

/// Everything a dashboard wants to know about one key's values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyStats<V> {
    /// Count and exact sum (the mean is [`Aggregate::avg`]).
    pub aggregate: Aggregate,
    /// The smallest value.
    pub min: V,
    /// The largest value.
    pub max: V,
    /// Event time of the latest value.
    pub last_ts: EventTime,
    /// The value with the greatest event time.
    pub last: V,
}

/// One partial result per operator, merged per key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Part<V> {
    Aggregate(Aggregate),
    Min(V),
    Max(V),
    Last(EventTime, V),
}

/// Per-key statistics over `(key, (event_time, value))`.
pub trait StatsPerKey<'scope, K, V> {
    /// One `(key, KeyStats)` per key with at least one value.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::StatsPerKey;
    ///
    /// timely::example(|scope| {
    ///     scope.new_collection_from(vec![(1i64, (20i64, 7i64)), (1, (10, 9))]).1
    ///         .stats_per_key()
    ///         .inspect(|((k, s), _, _)| {
    ///             assert_eq!((s.aggregate.count, s.min, s.max, s.last_ts, s.last), (2, 7, 9, 20, 7));
    ///         });
    /// });
    /// ```
    fn stats_per_key(self) -> Collection<'scope, (K, KeyStats<V>)>;
}

impl<'scope, K, V> StatsPerKey<'scope, K, V> for Collection<'scope, (K, (EventTime, V))>
where
    K: ExchangeData + Hash,
    V: ExchangeData + Hash + Summand,
{
    fn stats_per_key(self) -> Collection<'scope, (K, KeyStats<V>)> {
        let values = self.clone().map(|(k, (_, v))| (k, v));
        let aggregates = values.clone().aggregate_per_key().map(|(k, a)| (k, Part::Aggregate(a)));
        let mins = values.clone().min_per_key().map(|(k, v)| (k, Part::Min(v)));
        let maxs = values.max_per_key().map(|(k, v)| (k, Part::Max(v)));
        let lasts = self.last_per_key().map(|(k, (ts, v))| (k, Part::Last(ts, v)));
        // Each key has at most one part of each kind, so this reduce re-reads ≤ 4 rows.
        aggregates
            .concat(mins)
            .concat(maxs)
            .concat(lasts)
            .reduce_named("StatsPerKey", |_key, parts, out| {
                let (mut aggregate, mut min, mut max, mut last) = (None, None, None, None);
                for (part, n) in parts {
                    if *n <= 0 {
                        continue;
                    }
                    match part {
                        Part::Aggregate(a) => aggregate = Some(*a),
                        Part::Min(v) => min = Some(v.clone()),
                        Part::Max(v) => max = Some(v.clone()),
                        Part::Last(ts, v) => last = Some((*ts, v.clone())),
                    }
                }
                if let (Some(aggregate), Some(min), Some(max), Some((last_ts, last))) = (aggregate, min, max, last) {
                    out.push((
                        KeyStats {
                            aggregate,
                            min,
                            max,
                            last_ts,
                            last,
                        },
                        1,
                    ));
                }
            })
    }
}
