//! `Ewma`: a score against exponentially weighted moving mean and variance, so recent
//! readings count more than old ones and the model follows slow drifts.
//!
//! The recurrence (the incremental form of West/Finch), folded in `(ts, value)` order over
//! the key's readings:
//!
//! ```text
//! first reading x₁:   mean₁ = x₁,   var₁ = 0
//! then, for xₙ:       d = xₙ − meanₙ₋₁
//!                     meanₙ = meanₙ₋₁ + α·d
//!                     varₙ  = (1 − α)·(varₙ₋₁ + α·d²)
//! ```
//!
//! A reading is scored against the state folded over the readings strictly earlier in
//! event time: `score = (x − mean) / √var` ([`ScoreParts::z`] for `var = 0`). O(1) per
//! reading; the state is three numbers.

use tributary_engine::EventTime;

use super::scorer::{ScoreParts, Scorer};

/// Exponentially weighted z-score with smoothing factor `alpha` in `(0, 1]`.
///
/// ```
/// use tributary_operators::{Ewma, Scorer};
///
/// let ewma = Ewma::new(0.5);
/// let mut state = ewma.initial();
/// ewma.observe(&mut state, 1, 0.0);
/// ewma.observe(&mut state, 2, 2.0); // mean = 1, var = 0.5·(0 + 0.5·4) = 1
/// let parts = ewma.score(&state, &[(1, 0.0), (2, 2.0)], 3, 4.0).unwrap();
/// assert_eq!((parts.mean, parts.std, parts.score), (1.0, 1.0, 3.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ewma {
    alpha: f64,
}

impl Ewma {
    /// `alpha` is the weight of the newest reading; it is clamped into `(0, 1]` (NaN → 1),
    /// so a misconfigured value cannot poison the state.
    pub fn new(alpha: f64) -> Self {
        let alpha = if alpha.is_nan() {
            1.0
        } else {
            alpha.clamp(f64::MIN_POSITIVE, 1.0)
        };
        Self { alpha }
    }

    /// The smoothing factor in use.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
}

/// The EWMA state: readings folded, weighted mean and variance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EwmaState {
    /// Readings folded.
    pub n: u64,
    /// Weighted mean.
    pub mean: f64,
    /// Weighted variance.
    pub var: f64,
}

impl Scorer for Ewma {
    type State = EwmaState;

    fn initial(&self) -> EwmaState {
        EwmaState::default()
    }

    fn observe(&self, state: &mut EwmaState, _ts: EventTime, x: f64) {
        if state.n == 0 {
            *state = EwmaState {
                n: 1,
                mean: x,
                var: 0.0,
            };
        } else {
            let d = x - state.mean;
            state.n += 1;
            state.mean += self.alpha * d;
            state.var = (1.0 - self.alpha) * (state.var + self.alpha * d * d);
        }
    }

    fn score(&self, state: &EwmaState, _earlier: &[(EventTime, f64)], _ts: EventTime, x: f64) -> Option<ScoreParts> {
        (state.n > 0).then(|| ScoreParts::z(x, state.mean, state.var.sqrt()))
    }
}
