//! `ZScore`: `z = (x − μ) / σ` over a key's strictly earlier readings, over all history or
//! over a sliding event-time window.
//!
//! All history folds readings with Welford's recurrence (numerically stable: no
//! catastrophic cancellation of `Σx² − (Σx)²/n`), in `(ts, value)` order, so the result is a
//! deterministic function of the set of readings. The sliding window needs no state: the
//! operator hands the scorer the key's earlier readings sorted by time, and the scorer
//! computes mean and deviation over the window's slice in two passes (exact to rounding),
//! O(window) per scored reading.

use tributary_engine::EventTime;

use super::scorer::{ScoreParts, Scorer};

/// z-scores; σ is the *population* standard deviation (divide by n).
///
/// ```
/// use tributary_operators::{Scorer, ZScore};
///
/// let z = ZScore::all_history();
/// let mut state = z.initial();
/// for (ts, x) in [(1, 1.0), (2, 3.0)] {
///     z.observe(&mut state, ts, x);
/// }
/// // μ = 2, σ = 1
/// assert_eq!(z.score(&state, &[(1, 1.0), (2, 3.0)], 3, 5.0).map(|p| p.score), Some(3.0));
///
/// // only readings with ts in [10 − 5, 10) count: μ = 4, σ = 0, so 4 scores 0
/// let w = ZScore::sliding(5);
/// let earlier = [(1, 100.0), (6, 4.0), (9, 4.0)];
/// assert_eq!(w.score(&w.initial(), &earlier, 10, 4.0).map(|p| p.score), Some(0.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZScore {
    window_ms: Option<i64>,
}

impl ZScore {
    /// μ and σ over all strictly earlier readings of the key.
    pub fn all_history() -> Self {
        Self { window_ms: None }
    }

    /// μ and σ over the key's earlier readings with event time in `[ts − window_ms, ts)`.
    /// With an empty window the reading gets no score; with one earlier reading in the
    /// window σ = 0 (see [`ScoreParts::z`]).
    pub fn sliding(window_ms: i64) -> Self {
        Self {
            window_ms: Some(window_ms),
        }
    }
}

/// Welford's running count, mean and sum of squared deviations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Welford {
    /// Readings folded.
    pub n: u64,
    /// Their mean.
    pub mean: f64,
    /// Σ (x − mean)².
    pub m2: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }
}

impl Scorer for ZScore {
    type State = Welford;

    fn initial(&self) -> Welford {
        Welford::default()
    }

    fn observe(&self, state: &mut Welford, _ts: EventTime, x: f64) {
        // The window scorer reads the slice instead; folding would only cost time.
        if self.window_ms.is_none() {
            state.push(x);
        }
    }

    fn score(&self, state: &Welford, earlier: &[(EventTime, f64)], ts: EventTime, x: f64) -> Option<ScoreParts> {
        match self.window_ms {
            None if state.n > 0 => Some(ScoreParts::z(x, state.mean, (state.m2 / state.n as f64).sqrt())),
            None => None,
            Some(window) => {
                let from = ts.saturating_sub(window);
                let start = earlier.partition_point(|(t, _)| *t < from);
                let (mean, std) = two_pass(earlier[start..].iter().map(|(_, v)| *v))?;
                Some(ScoreParts::z(x, mean, std))
            }
        }
    }
}

/// Mean and population standard deviation in two passes; `None` when empty.
fn two_pass(values: impl Iterator<Item = f64> + Clone) -> Option<(f64, f64)> {
    let (n, sum) = values.clone().fold((0u64, 0.0), |(n, s), v| (n + 1, s + v));
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    let squares: f64 = values.map(|v| (v - mean) * (v - mean)).sum();
    Some((mean, (squares / n as f64).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_survives_a_large_offset() {
        // Σx² − (Σx)²/n would cancel every digit here (Σx² ≈ 4e18, its ulp 512 > m2 = 21);
        // Welford's error is about ε · |mean| / σ ≈ 1e-7 relative.
        let values = [1e9 + 1.0, 1e9 + 2.0, 1e9 + 4.0, 1e9 + 7.0];
        let mut w = Welford::default();
        values.iter().for_each(|v| w.push(*v));
        let (mean, std) = two_pass(values.iter().copied()).unwrap_or_default();
        assert_eq!(w.mean, mean);
        assert!(((w.m2 / 4.0).sqrt() - std).abs() < 1e-6 * std);
    }

    #[test]
    fn empty_history_has_no_score() {
        let z = ZScore::all_history();
        assert_eq!(z.score(&z.initial(), &[], 1, 1.0), None);
        let w = ZScore::sliding(10);
        assert_eq!(w.score(&w.initial(), &[(0, 1.0)], 20, 1.0), None);
    }
}
