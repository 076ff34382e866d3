//! anomaly_scores against a from-scratch two-pass oracle at every epoch; the sensor-stream
//! tests (known spikes, determinism across epoch splittings, two workers) are in `stream`.

mod settle_order;
mod stream;

use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{AnomalyConfig, AnomalyScores, AnomalyState, Ewma, OrderedFloat, ScoreRow, Scorer, ZScore};

use crate::oracle::{Event, Multiset, check_every_epoch, groups, keyed_events};

/// An odd threshold, so that no score of the small random inputs lands exactly on it and
/// rounding differences between operator and oracle cannot flip a flag.
const CONFIG: AnomalyConfig = AnomalyConfig {
    threshold: 1.2345,
    min_count: 3,
    settle_ms: 0,
};
const WINDOW: i64 = 15;
const ALPHA: f64 = 0.3;

type Out = Result<ScoreRow<u8>, AnomalyState<u8>>;

/// Event values are small integers; halve them so means are not all integral.
fn value(v: i64) -> f64 {
    v as f64 * 0.5
}

fn scored<S: Scorer>(c: Collection<'_, Event>, scorer: S) -> Collection<'_, Out> {
    let out = c
        .map(|(k, (ts, v))| (k, (ts, OrderedFloat(value(v)))))
        .anomaly_scores(scorer, CONFIG);
    out.scores.map(Ok).concat(out.state.map(Err))
}

fn all_history(c: Collection<'_, Event>) -> Collection<'_, Out> {
    scored(c, ZScore::all_history())
}

fn sliding(c: Collection<'_, Event>) -> Collection<'_, Out> {
    scored(c, ZScore::sliding(WINDOW))
}

fn ewma(c: Collection<'_, Event>) -> Collection<'_, Out> {
    scored(c, Ewma::new(ALPHA))
}

#[derive(Clone, Copy)]
enum Model {
    AllHistory,
    Sliding,
    Ewma,
}

fn two_pass(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Some((mean, var.sqrt()))
}

fn ewma_fold(values: &[f64]) -> Option<(f64, f64)> {
    let (first, rest) = values.split_first()?;
    let (mut mean, mut var) = (*first, 0.0);
    for x in rest {
        let d = x - mean;
        mean += ALPHA * d;
        var = (1.0 - ALPHA) * (var + ALPHA * d * d);
    }
    Some((mean, var.sqrt()))
}

/// Recomputes both outputs from the accumulated input, reading by reading.
fn oracle(input: &Multiset<Event>, model: Model) -> (Vec<ScoreRow<u8>>, Vec<AnomalyState<u8>>) {
    let (mut rows, mut states) = (Vec::new(), Vec::new());
    for (key, readings) in groups(input) {
        let mut key_rows = Vec::new();
        for &(ts, v) in &readings {
            let earlier: Vec<(i64, f64)> = readings
                .iter()
                .filter(|(t, _)| *t < ts)
                .map(|&(t, v)| (t, value(v)))
                .collect();
            if (earlier.len() as u64) < CONFIG.min_count {
                continue;
            }
            let values: Vec<f64> = match model {
                Model::Sliding => earlier
                    .iter()
                    .filter(|(t, _)| *t >= ts - WINDOW)
                    .map(|(_, v)| *v)
                    .collect(),
                _ => earlier.iter().map(|(_, v)| *v).collect(),
            };
            let moments = match model {
                Model::Ewma => ewma_fold(&values),
                _ => two_pass(&values),
            };
            let Some((mean, std)) = moments else { continue };
            let x = value(v);
            let score = if std != 0.0 {
                (x - mean) / std
            } else if x == mean {
                0.0
            } else {
                f64::INFINITY.copysign(x - mean)
            };
            let is_anomaly = score.abs() > CONFIG.threshold;
            key_rows.push(ScoreRow {
                key,
                ts,
                value: x,
                mean,
                std,
                score,
                is_anomaly,
            });
        }
        let anomalies = key_rows.iter().filter(|r| r.is_anomaly).count() as u64;
        let last_anomaly_ts = key_rows.iter().filter(|r| r.is_anomaly).map(|r| r.ts).max();
        if let Some(r) = key_rows.last() {
            states.push(AnomalyState {
                key,
                ts: r.ts,
                value: r.value,
                mean: r.mean,
                std: r.std,
                score: r.score,
                is_anomaly: r.is_anomaly,
                anomalies,
                last_anomaly_ts,
            });
        }
        rows.extend(key_rows);
    }
    (rows, states)
}

/// Within 1e-9 relative; values near zero (a score of a reading equal to the mean) are
/// compared against a scale of 1, where both sides are rounding noise.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn close_row(a: &ScoreRow<u8>, b: &ScoreRow<u8>) -> bool {
    (a.key, a.ts, a.is_anomaly) == (b.key, b.ts, b.is_anomaly)
        && [(a.value, b.value), (a.mean, b.mean), (a.std, b.std), (a.score, b.score)]
            .iter()
            .all(|(x, y)| close(*x, *y))
}

fn close_state(a: &AnomalyState<u8>, b: &AnomalyState<u8>) -> bool {
    let row = |s: &AnomalyState<u8>| ScoreRow {
        key: s.key,
        ts: s.ts,
        value: s.value,
        mean: s.mean,
        std: s.std,
        score: s.score,
        is_anomaly: s.is_anomaly,
    };
    a.anomalies == b.anomalies && close_row(&row(a), &row(b))
}

/// Expands multiplicities (which must be positive) into a list sorted by (key, ts, value).
fn expand<D: Clone>(
    set: impl Iterator<Item = (D, isize)>,
    by: impl Fn(&D) -> (u8, i64, f64),
) -> Result<Vec<D>, TestCaseError> {
    let mut list = Vec::new();
    for (d, n) in set {
        prop_assert!(n > 0, "negative multiplicity {n}");
        list.extend(std::iter::repeat_n(d, n.unsigned_abs()));
    }
    list.sort_by(|a, b| {
        let (a, b) = (by(a), by(b));
        (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2))
    });
    Ok(list)
}

fn check(model: Model) -> impl Fn(&Multiset<Event>, &Multiset<Out>) -> Result<(), TestCaseError> + Send + Sync {
    move |input, output| {
        let (rows, states) = oracle(input, model);
        let got_rows = expand(
            output
                .iter()
                .filter_map(|(o, n)| o.as_ref().ok().map(|r| (r.clone(), *n))),
            |r| (r.key, r.ts, r.value),
        )?;
        let got_states = expand(
            output
                .iter()
                .filter_map(|(o, n)| o.as_ref().err().map(|s| (s.clone(), *n))),
            |s| (s.key, s.ts, s.value),
        )?;
        let mut expected_rows = rows;
        expected_rows.sort_by(|a, b| (a.key, a.ts).cmp(&(b.key, b.ts)).then(a.value.total_cmp(&b.value)));
        prop_assert_eq!(
            got_rows.len(),
            expected_rows.len(),
            "rows {:?} vs {:?}",
            got_rows,
            expected_rows
        );
        for (g, e) in got_rows.iter().zip(&expected_rows) {
            prop_assert!(close_row(g, e), "row {:?} vs expected {:?}", g, e);
        }
        prop_assert_eq!(
            got_states.len(),
            states.len(),
            "states {:?} vs {:?}",
            got_states,
            states
        );
        for (g, e) in got_states.iter().zip(&states) {
            prop_assert!(close_state(g, e), "state {:?} vs expected {:?}", g, e);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn zscore_all_history_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, all_history, check(Model::AllHistory))?;
    }

    #[test]
    fn zscore_sliding_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, sliding, check(Model::Sliding))?;
    }

    #[test]
    fn ewma_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, ewma, check(Model::Ewma))?;
    }
}
