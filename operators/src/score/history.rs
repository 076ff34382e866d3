//! One key's readings in event-time order with scorer checkpoints: the part of
//! `anomaly_scores` that makes late readings cheap to correct.
//!
//! Readings are kept sorted by `(ts, value)` (duplicates repeated), next to the score each
//! one received, and the scorer's state *before* every distinct event time is kept as a
//! checkpoint. A batch of changes whose earliest event time is `t` only affects readings at
//! `ts ≥ t` (nothing earlier can see a later reading), so applying it restores the
//! checkpoint at `t`, retracts the old scores from there on, merges the changes in and
//! refolds forward: O(m · log) for m readings at or after `t`, which for in-order readings
//! is just the new ones. Scoring itself is whatever the scorer costs per reading.

use std::collections::BTreeMap;

use ordered_float::OrderedFloat;
use tributary_engine::EventTime;

use super::scorer::{ScoreParts, Scorer};

/// A reading as stored and as sorted: `(ts, value)`.
pub(crate) type Reading = (EventTime, OrderedFloat<f64>);

/// A change to the scores: `((ts, value, parts), diff)`.
pub(crate) type ScoreChange = ((EventTime, f64, ScoreParts), isize);

/// One key's readings, scores and checkpoints.
pub(crate) struct History<S: Scorer> {
    /// Present readings sorted by `(ts, value)`, each copy once.
    points: Vec<(EventTime, f64)>,
    /// The score of `points[i]`, if it has one.
    scores: Vec<Option<ScoreParts>>,
    /// `(ts, state folded over every reading strictly earlier than ts)` per distinct ts.
    checkpoints: Vec<(EventTime, S::State)>,
    /// The state folded over all readings.
    folded: S::State,
    /// Readings retracted more often than inserted so far (negative multiplicity): kept so
    /// that the result stays a function of the accumulated input even on such input.
    owed: BTreeMap<Reading, isize>,
}

impl<S: Scorer> History<S> {
    pub(crate) fn new(scorer: &S) -> Self {
        Self {
            points: Vec::new(),
            scores: Vec::new(),
            checkpoints: Vec::new(),
            folded: scorer.initial(),
            owed: BTreeMap::new(),
        }
    }

    /// Whether nothing (not even a negative multiplicity) is left, so the key can go.
    pub(crate) fn is_empty(&self) -> bool {
        self.points.is_empty() && self.owed.is_empty()
    }

    /// Applies `changes` (sorted by reading, consolidated, no zero diffs) and pushes the
    /// resulting score changes — old scores retracted, new ones inserted, not consolidated —
    /// to `out`. Readings with fewer than `min_count` strictly earlier readings get no score.
    pub(crate) fn apply(
        &mut self,
        scorer: &S,
        min_count: u64,
        changes: &[(Reading, isize)],
        out: &mut Vec<ScoreChange>,
    ) {
        let Some(((from, _), _)) = changes.first() else {
            return;
        };
        let from = *from;
        let lo = self.points.partition_point(|(t, _)| *t < from);
        let checkpoint = self.checkpoints.partition_point(|(t, _)| *t < from);
        let mut state = match self.checkpoints.drain(checkpoint..).next() {
            Some((_, state)) => state,
            None => self.folded.clone(),
        };
        let old_points = self.points.split_off(lo);
        for (point, parts) in old_points.iter().zip(self.scores.drain(lo..)) {
            if let Some(parts) = parts {
                out.push(((point.0, point.1, parts), -1));
            }
        }
        let merged = merge(old_points, changes, &mut self.owed);
        for group in merged.chunk_by(|a, b| a.0 == b.0) {
            let ts = group[0].0;
            let start = self.points.len();
            self.checkpoints.push((ts, state.clone()));
            let scored = u64::try_from(start).is_ok_and(|n| n >= min_count);
            for &(t, x) in group {
                let parts = if scored {
                    scorer.score(&state, &self.points[..start], t, x)
                } else {
                    None
                };
                if let Some(parts) = parts {
                    out.push(((t, x, parts), 1));
                }
                self.points.push((t, x));
                self.scores.push(parts);
            }
            for &(t, x) in group {
                scorer.observe(&mut state, t, x);
            }
        }
        self.folded = state;
    }

    /// The scored reading with the greatest `(ts, value)`.
    pub(crate) fn latest(&self) -> Option<(EventTime, f64, ScoreParts)> {
        self.points
            .iter()
            .zip(&self.scores)
            .rev()
            .find_map(|(&(t, x), parts)| parts.map(|p| (t, x, p)))
    }
}

/// Merges sorted `changes` into the sorted readings `old`, settling negative multiplicities
/// against `owed`.
fn merge(
    old: Vec<(EventTime, f64)>,
    changes: &[(Reading, isize)],
    owed: &mut BTreeMap<Reading, isize>,
) -> Vec<(EventTime, f64)> {
    let mut merged = Vec::with_capacity(old.len() + changes.len());
    let mut old = old.into_iter().peekable();
    let key = |p: &(EventTime, f64)| (p.0, OrderedFloat(p.1));
    for &(reading, diff) in changes {
        while let Some(p) = old.next_if(|p| key(p) < reading) {
            merged.push(p);
        }
        let mut present = 0isize;
        while old.next_if(|p| key(p) == reading).is_some() {
            present += 1;
        }
        let net = present + owed.remove(&reading).unwrap_or(0) + diff;
        if net < 0 {
            owed.insert(reading, net);
        }
        merged.extend(std::iter::repeat_n((reading.0, reading.1.0), net.max(0).unsigned_abs()));
    }
    merged.extend(old);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZScore;

    fn apply(h: &mut History<ZScore>, changes: &[(i64, f64, isize)]) -> Vec<ScoreChange> {
        let changes: Vec<_> = changes.iter().map(|&(t, x, d)| ((t, OrderedFloat(x)), d)).collect();
        let mut out = Vec::new();
        h.apply(&ZScore::all_history(), 1, &changes, &mut out);
        out
    }

    #[test]
    fn late_reading_rescores_later_ones_only() {
        let mut h = History::new(&ZScore::all_history());
        assert!(apply(&mut h, &[(1, 1.0, 1), (3, 3.0, 1)]).len() == 1);
        // the late reading at ts 2: the score of ts 3 is retracted and re-inserted; ts 1 untouched
        let out = apply(&mut h, &[(2, 2.0, 1)]);
        let times: Vec<_> = out.iter().map(|((t, _, _), d)| (*t, *d)).collect();
        assert_eq!(times, vec![(3, -1), (2, 1), (3, 1)]);
        assert_eq!(h.latest().map(|(t, x, p)| (t, x, p.mean)), Some((3, 3.0, 1.5)));
    }

    #[test]
    fn over_retraction_is_owed_not_lost() {
        let mut h = History::new(&ZScore::all_history());
        apply(&mut h, &[(1, 1.0, -1)]);
        assert!(!h.is_empty());
        apply(&mut h, &[(1, 1.0, 2)]);
        assert_eq!(h.points, vec![(1, 1.0)]);
        apply(&mut h, &[(1, 1.0, -1)]);
        assert!(h.is_empty());
    }
}
