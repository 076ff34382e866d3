//! The `Scorer` trait: the model behind `anomaly_scores`, pluggable by users.
//!
//! A scorer must allow the operator to *correct* scores when a reading arrives late. The
//! operator therefore owns the order of evaluation: it keeps each key's readings sorted by
//! `(ts, value)` together with a checkpoint of the scorer's state before every distinct
//! event time, and asks the scorer for two things only — how to fold one more reading into
//! a state ([`Scorer::observe`]) and how to score a reading against the state of everything
//! strictly earlier ([`Scorer::score`]). A late reading restores the checkpoint at its
//! insertion point and refolds forward; an in-order one extends the last state. So the
//! state must be a pure function of the readings folded, in that order — which is what
//! makes the result independent of arrival order and epoch boundaries.

use std::cmp::Ordering;

use tributary_engine::EventTime;

/// What a scorer says about one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreParts {
    /// The expected value.
    pub mean: f64,
    /// The spread around it.
    pub std: f64,
    /// The score; `|score| > threshold` flags the reading.
    pub score: f64,
}

impl ScoreParts {
    /// The z-score `(x − mean) / std`, with the convention for a zero spread: `0.0` when
    /// `x == mean`, otherwise `±f64::INFINITY` (so the reading is flagged by any finite
    /// threshold). A NaN anywhere gives a NaN score, which is never flagged.
    pub fn z(x: f64, mean: f64, std: f64) -> Self {
        let score = if std == 0.0 {
            match x.partial_cmp(&mean) {
                Some(Ordering::Equal) => 0.0,
                Some(Ordering::Greater) => f64::INFINITY,
                Some(Ordering::Less) => f64::NEG_INFINITY,
                None => f64::NAN,
            }
        } else {
            (x - mean) / std
        };
        Self { mean, std, score }
    }
}

/// A per-key anomaly model.
///
/// The operator calls, per key, [`Scorer::observe`] for every reading in `(ts, value)`
/// order starting from [`Scorer::initial`], and [`Scorer::score`] for each reading with the
/// state of all readings *strictly* earlier in event time. States are cloned once per
/// distinct event time (the checkpoints), so keep them small.
///
/// ```
/// use tributary_engine::EventTime;
/// use tributary_operators::{ScoreParts, Scorer};
///
/// /// Scores a reading by its distance from the previous one.
/// #[derive(Clone)]
/// struct Jump;
///
/// impl Scorer for Jump {
///     type State = ();
///     fn initial(&self) {}
///     fn observe(&self, _: &mut (), _: EventTime, _: f64) {}
///     fn score(&self, _: &(), earlier: &[(EventTime, f64)], _: EventTime, x: f64) -> Option<ScoreParts> {
///         let (_, last) = earlier.last()?;
///         Some(ScoreParts { mean: *last, std: 1.0, score: x - last })
///     }
/// }
///
/// assert_eq!(Jump.score(&(), &[(1, 2.0)], 5, 7.0).map(|p| p.score), Some(5.0));
/// ```
pub trait Scorer: Clone + 'static {
    /// The model after folding some readings; cloned at every distinct event time.
    type State: Clone + 'static;

    /// The state before any reading.
    fn initial(&self) -> Self::State;

    /// Folds reading `x` at event time `ts` into `state`. Readings arrive in `(ts, value)`
    /// order, duplicates once per copy.
    fn observe(&self, state: &mut Self::State, ts: EventTime, x: f64);

    /// Scores reading `x` at `ts` against `state`, the fold of exactly the readings in
    /// `earlier` — the key's readings strictly earlier than `ts`, sorted by `(ts, value)` —
    /// which window models can look back over. `None` means "no score" (no row).
    fn score(&self, state: &Self::State, earlier: &[(EventTime, f64)], ts: EventTime, x: f64) -> Option<ScoreParts>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_spread_is_zero_or_infinite() {
        assert_eq!(ScoreParts::z(3.0, 3.0, 0.0).score, 0.0);
        assert_eq!(ScoreParts::z(4.0, 3.0, 0.0).score, f64::INFINITY);
        assert_eq!(ScoreParts::z(2.0, 3.0, 0.0).score, f64::NEG_INFINITY);
        assert_eq!(ScoreParts::z(5.0, 3.0, 2.0).score, 1.0);
        assert!(ScoreParts::z(f64::NAN, 3.0, 0.0).score.is_nan());
    }
}
