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
//! | `anomaly_scores` | [`AnomalyScores`] | custom operator; per key and epoch O(m log m) for the m readings at or after the earliest changed event time, plus the scorer per reading: in order O(1), k places late O(k) |
//! | `trigger`, `triggers` | [`Triggers`] | per update: a predicate and event-time call per rule, one hash lookup per changed key; only transitions reach the one governing worker |
//! | `latest_n_per_key` | [`LatestNPerKey`] | ≤ 5 reduces over ≤ 16·N items: hierarchical top-N (`feed/`) |
//! | `top_n` | [`TopN`] | as `latest_n_per_key`, one key; all but the last stage spread over workers |
//! | `upsert` | [`Upsert`] | as `last_per_key`; keeps every version (`table/`) |
//! | `count_distinct_per_key` | [`CountDistinctPerKey`] | O(1): `distinct`, then the count in the difference |
//! | `enrich_with` | [`EnrichWith`] | stream ⋈ shared [`Table`], left outer: one lookup per update plus a row per match (`join/`) |
//! | `join_projections` | [`JoinProjections`] | projection ⋈ shared arrangement, inner: one lookup per update plus a row per match |
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
//! `anomaly_scores` is not a per-key projection but a per-reading one: each reading is
//! scored ([`ZScore`], [`Ewma`] or any [`Scorer`]) against its key's strictly earlier
//! readings in event time, plus a per-key [`AnomalyState`]. It is a custom timely operator
//! that keeps each key's readings sorted with scorer checkpoints, so a late reading
//! re-scores only the readings after it.
//!
//! Triggers ([`Triggers`], in `trigger/`) watch a projection: a [`TriggerRule`] is a
//! predicate over its rows, and entering or leaving the set of `(rule, key)` where it holds
//! emits FIRING / RESOLVED [`ActionEvent`]s, deduplicated and rate limited on event time by a
//! [`TriggerPolicy`].
//!
//! Feeds (top-N) use the same idea with N survivors per bucket. Joins read a [`Table`]:
//! one arrangement of the table side, shared by every join against it.
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
mod feed;
mod join;
mod last;
mod max;
mod min;
mod score;
mod stats;
mod sum;
mod table;
mod trigger;
mod window;

pub use aggregate::{Aggregate, AggregatePerKey, ExactSum, Summand};
pub use avg::AvgPerKey;
pub use count::CountPerKey;
pub use feed::{LatestNPerKey, TopN};
pub use join::{EnrichWith, JoinProjections, KeyArrangement, Table, TableArrangement};
pub use last::LastPerKey;
pub use max::MaxPerKey;
pub use min::MinPerKey;
pub use score::ewma::{Ewma, EwmaState};
pub use score::operator::{AnomalyOutputs, AnomalyScores};
pub use score::rows::{AnomalyConfig, AnomalyState, ScoreRow};
pub use score::scorer::{ScoreParts, Scorer};
pub use score::zscore::{Welford, ZScore};
pub use stats::{KeyStats, StatsPerKey};
pub use sum::SumPerKey;
pub use table::{CountDistinctPerKey, Upsert};
pub use trigger::{
    ActionEvent, ActionState, AlertRow, Severity, TriggerOutputs, TriggerPolicy, TriggerRule, TriggerStats, Triggers,
};
pub use window::{
    CompactedSessions, LatePolicy, LateSplit, LatenessPolicy, SessionWindows, SplitLate, StateSize, Window,
    WindowError, WindowSpec, Windowed, Windows,
};

/// Re-exported: floats that can be differential data (they must be `Ord`).
pub use ordered_float::OrderedFloat;
