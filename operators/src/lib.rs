//! # Tributary operators
//!
//! Keyed projections as extension traits on differential collections, one operator per
//! file. Each takes a collection of `(key, value)` pairs and maintains one row per key,
//! incrementally and including retractions:
//!
//! | operator | trait | cost per update |
//! |---|---|---|
//! | `count_per_key` | [`CountPerKey`] | O(1) amortised: the count travels in the difference |
//! | `sum_per_key` | [`SumPerKey`] | O(1): exact fixed-point sum in the difference |
//! | `avg_per_key` | [`AvgPerKey`] | O(1): `(count, sum)` in the difference |
//! | `aggregate_per_key` | [`AggregatePerKey`] | O(1): count, sum and average from one arrangement |
//! | `min_per_key`, `max_per_key` | [`MinPerKey`], [`MaxPerKey`] | three reduces over ≤ 256 candidates: hierarchical reduction |
//! | `last_per_key` | [`LastPerKey`] | as min/max: the value with the greatest event time |
//! | `stats_per_key` | [`StatsPerKey`] | all of the above in one row per key |
//! | `windowed` | [`Windowed`] | O(size / slide): a `flat_map` into each tumbling or hopping [`Window`] |
//! | `session_windows` | [`SessionWindows`] | O((u + s) log n) per changed key and epoch: re-assigns only the affected sessions |
//! | `split_late` | [`SplitLate`] | O(1) per update plus one broadcast maximum per batch: watermark and late records ([`LatenessPolicy`]) |
//!
//! Sums are exact: values are converted once to fixed point ([`ExactSum`], 10⁻⁹ units) and
//! added as integers, so the result does not depend on arrival order or on how updates are
//! batched — a live projection, a batch recomputation and a replay agree bit for bit.
//!
//! `min`, `max` and `last` cannot travel in a difference (they are not invertible), so they
//! use a *hierarchical* reduction: values are bucketed by a hash, each bucket keeps its
//! extremum, and coarser buckets reduce those, so an update re-reads at most a few hundred
//! candidates instead of the key's whole history. `stats_per_key` computes min, max and
//! last in one such pass.
//!
//! Windows (module `window`) re-key `(key, (event_time, value))` records by
//! `(key, window)`, so every keyed operator above computes per key and window; lateness
//! splits a stream by its watermark into on-time records, late records (as data, to be
//! dead-lettered) and the watermark itself.
#![deny(missing_docs)]

mod aggregate;
mod avg;
mod count;
mod extremum;
mod last;
mod max;
mod min;
mod stats;
mod sum;
mod window;

pub use aggregate::{Aggregate, AggregatePerKey, ExactSum, Summand};
pub use avg::AvgPerKey;
pub use count::CountPerKey;
pub use last::LastPerKey;
pub use max::MaxPerKey;
pub use min::MinPerKey;
pub use stats::{KeyStats, StatsPerKey};
pub use sum::SumPerKey;
pub use window::{
    CompactedSessions, LatePolicy, LateSplit, LatenessPolicy, SessionWindows, SplitLate, StateSize, Window,
    WindowError, WindowSpec, Windowed, Windows,
};

/// Re-exported: floats that can be differential data (they must be `Ord`).
pub use ordered_float::OrderedFloat;
