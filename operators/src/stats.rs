//! `stats_per_key`: count, sum, mean, min, max and last value in one row per key.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use serde::{Deserialize, Serialize};
use tributary_engine::{Collection, EventTime};

use crate::extremum::{Group, hierarchical};
use crate::{Aggregate, AggregatePerKey, Summand};

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
    /// The value with the greatest event time (ties: the greater value).
    pub last: V,
}

/// Min, max and last of a set of values: one summary, so one hierarchical pass serves all
/// three.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Extremes<V> {
    min: V,
    max: V,
    last: (EventTime, V),
}

impl<V: Ord + Clone> Extremes<V> {
    fn of(values: Group<'_, '_, (EventTime, V)>) -> Option<Self> {
        let mut present = values.iter().filter(|(_, n)| *n > 0).map(|(tv, _)| *tv);
        let first = present.next()?;
        let mut summary = Self {
            min: first.1.clone(),
            max: first.1.clone(),
            last: first.clone(),
        };
        for tv in present {
            summary.absorb(&tv.1, &tv.1, tv);
        }
        Some(summary)
    }

    fn merge(parts: Group<'_, '_, Self>) -> Option<Self> {
        let mut present = parts.iter().filter(|(_, n)| *n > 0).map(|(s, _)| *s);
        let mut summary = present.next()?.clone();
        for s in present {
            summary.absorb(&s.min, &s.max, &s.last);
        }
        Some(summary)
    }

    fn absorb(&mut self, min: &V, max: &V, last: &(EventTime, V)) {
        if *min < self.min {
            self.min = min.clone();
        }
        if *max > self.max {
            self.max = max.clone();
        }
        if *last > self.last {
            self.last = last.clone();
        }
    }
}

/// One partial result per pass, merged per key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Part<V> {
    Aggregate(Aggregate),
    Extremes(Extremes<V>),
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
        let aggregates = self
            .clone()
            .map(|(k, (_, v))| (k, v))
            .aggregate_per_key()
            .map(|(k, a)| (k, Part::Aggregate(a)));
        let extremes = hierarchical(self, "StatsPerKey/extremes", Extremes::of, Extremes::merge)
            .map(|(k, e)| (k, Part::Extremes(e)));
        // Each key has at most one part of each kind, so this reduce re-reads ≤ 2 rows.
        aggregates
            .concat(extremes)
            .reduce_named("StatsPerKey", |_key, parts, out| {
                let (mut aggregate, mut extremes) = (None, None);
                for (part, n) in parts {
                    match part {
                        Part::Aggregate(a) if *n > 0 => aggregate = Some(*a),
                        Part::Extremes(e) if *n > 0 => extremes = Some(e),
                        _ => {}
                    }
                }
                if let (Some(aggregate), Some(e)) = (aggregate, extremes) {
                    out.push((
                        KeyStats {
                            aggregate,
                            min: e.min.clone(),
                            max: e.max.clone(),
                            last_ts: e.last.0,
                            last: e.last.1.clone(),
                        },
                        1,
                    ));
                }
            })
    }
}
