//! Tumbling, hopping and session windows against from-scratch oracles at every epoch, with
//! out-of-order and negative event times and retractions; sessions also on two workers.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{Aggregate, AggregatePerKey, CountPerKey, SessionWindows, Window, WindowSpec, Windowed};

use crate::oracle::{Event, Multiset, check_every_epoch, groups, keyed_events, outputs_by_epoch};

pub const GAP: i64 = 5;

/// An event with its session: `((key, window), (ts, value))`.
pub type Assigned = ((u8, Window), (i64, i64));

/// Random keyed events with event times shifted to -25..25, so some precede the Unix epoch.
fn shifted_events() -> impl Strategy<Value = Vec<Vec<(Event, isize)>>> {
    keyed_events().prop_map(|epochs| {
        epochs
            .into_iter()
            .map(|updates| {
                updates
                    .into_iter()
                    .map(|((k, (ts, v)), r)| ((k, (ts - 25, v)), r))
                    .collect()
            })
            .collect()
    })
}

/// The windows of `size` every `slide` that hold `ts`, by scanning aligned starts.
fn naive_windows(size: i64, slide: i64, ts: i64) -> Vec<Window> {
    (-100..100)
        .map(|k| k * slide)
        .filter(|start| *start <= ts && ts < start + size)
        .map(|start| Window {
            start,
            end: start + size,
        })
        .collect()
}

fn tumbling_counts(c: Collection<'_, Event>) -> Collection<'_, ((u8, Window), i64)> {
    c.windowed(WindowSpec::tumbling(10)).count_per_key()
}

fn hopping_aggregates(c: Collection<'_, Event>) -> Collection<'_, ((u8, Window), Aggregate)> {
    c.windowed(WindowSpec::hopping(10, 3))
        .map(|(kw, (_, v))| (kw, v))
        .aggregate_per_key()
}

fn sessions(c: Collection<'_, Event>) -> Collection<'_, Assigned> {
    c.session_windows(GAP)
}

/// Every present event with its session: the key's events sorted by time, split where
/// consecutive times are `GAP` or more apart; the window is `[first, last + GAP)`.
pub fn session_oracle(input: &Multiset<Event>) -> Multiset<Assigned> {
    let mut out = BTreeMap::new();
    for (key, mut events) in groups(input) {
        events.sort();
        let mut runs: Vec<Vec<(i64, i64)>> = Vec::new();
        for event in events {
            match runs.last_mut() {
                Some(run) if event.0 - run[run.len() - 1].0 < GAP => run.push(event),
                _ => runs.push(vec![event]),
            }
        }
        for run in runs {
            let window = Window {
                start: run[0].0,
                end: run[run.len() - 1].0 + GAP,
            };
            for event in run {
                *out.entry(((key, window), event)).or_insert(0) += 1;
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tumbling_counts_match_oracle(epochs in shifted_events()) {
        check_every_epoch(epochs, tumbling_counts, |input, output| {
            let mut expected = BTreeMap::new();
            for (key, events) in groups(input) {
                for (ts, _) in events {
                    for w in naive_windows(10, 10, ts) {
                        *expected.entry((key, w)).or_insert(0i64) += 1;
                    }
                }
            }
            let expected: Multiset<((u8, Window), i64)> = expected.into_iter().map(|kc| (kc, 1)).collect();
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }

    #[test]
    fn hopping_aggregates_match_oracle(epochs in shifted_events()) {
        check_every_epoch(epochs, hopping_aggregates, |input, output| {
            let mut expected: BTreeMap<(u8, Window), Aggregate> = BTreeMap::new();
            for (key, events) in groups(input) {
                for (ts, v) in events {
                    for w in naive_windows(10, 3, ts) {
                        let a = expected.entry((key, w)).or_default();
                        a.count += 1;
                        a.sum += Aggregate::of(&v).sum;
                    }
                }
            }
            let expected: Multiset<((u8, Window), Aggregate)> = expected.into_iter().map(|ka| (ka, 1)).collect();
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }

    #[test]
    fn sessions_match_oracle(epochs in shifted_events()) {
        check_every_epoch(epochs, sessions, |input, output| {
            prop_assert_eq!(output, &session_oracle(input));
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Records are exchanged by key: two workers feeding halves must agree with the oracle.
    #[test]
    fn sessions_on_two_workers_match_oracle(epochs in shifted_events()) {
        let mut input = BTreeMap::new();
        let by_epoch = outputs_by_epoch(2, epochs.clone(), sessions);
        for (updates, output) in epochs.into_iter().zip(by_epoch) {
            for (event, diff) in updates {
                *input.entry(event).or_insert(0) += diff;
            }
            input.retain(|_, n| *n != 0);
            prop_assert_eq!(output, session_oracle(&input));
        }
    }
}

/// The documented boundary: `GAP` apart splits (11 and 16), `GAP - 1` apart joins (0 and 4);
/// a bridging event (8) merges two sessions and retracting it splits them again.
#[test]
fn sessions_split_at_exactly_the_gap_merge_and_split() -> Result<(), TestCaseError> {
    let e = |ts: i64, diff: isize| ((0u8, (ts, 0i64)), diff);
    let epochs = vec![
        vec![e(0, 1), e(4, 1), e(11, 1), e(16, 1)],
        vec![e(8, 1)],
        vec![e(8, -1)],
    ];
    let w = |start, end| Window { start, end };
    let expected_windows = [
        vec![w(0, 9), w(11, 16), w(16, 21)],
        vec![w(0, 16), w(16, 21)],
        vec![w(0, 9), w(11, 16), w(16, 21)],
    ];
    let round = std::sync::atomic::AtomicUsize::new(0);
    check_every_epoch(epochs, sessions, move |input, output| {
        prop_assert_eq!(output, &session_oracle(input));
        let windows: std::collections::BTreeSet<Window> = output.keys().map(|((_, w), _)| *w).collect();
        let i = round.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        prop_assert_eq!(windows.into_iter().collect::<Vec<_>>(), expected_windows[i].clone());
        Ok(())
    })
}
