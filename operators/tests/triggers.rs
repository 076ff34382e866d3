//! Triggers: scripted FIRING/RESOLVED sequences, dedup, rate limit and overflow with exact
//! expected actions; a naive membership oracle at every epoch; epoch-split and worker-count
//! invariance.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use differential_dataflow::input::Input;
use proptest::prelude::*;
use timely::dataflow::ProbeHandle;
use tributary_operators::{ActionEvent, ActionState, AlertRow, TriggerPolicy, TriggerRule, TriggerStats, Triggers};

/// A projection row: `(event time, score)`.
type Row = (i64, i64);
type Update = ((u32, Row), isize);

/// A projection change: set the key's row, or delete it.
#[derive(Debug, Clone, Copy)]
enum Step {
    Set(u32, i64, i64),
    Delete(u32),
}

impl Step {
    fn key(&self) -> u32 {
        match self {
            Step::Set(k, _, _) | Step::Delete(k) => *k,
        }
    }
}

/// The accumulated outputs after an epoch.
#[derive(Debug, Clone, PartialEq, Default)]
struct Snapshot {
    /// In emission order (per rule, by seq).
    actions: Vec<ActionEvent<u32>>,
    alerts: Vec<AlertRow<u32>>,
    stats: Vec<TriggerStats>,
}

fn rule() -> TriggerRule<Row> {
    TriggerRule::new("high", |r: &Row| r.1.abs() > 4, |r| r.0)
}

/// Turns epochs of projection steps into differential updates (an upsert retracts the old row).
fn updates(epochs: &[Vec<Step>]) -> Vec<Vec<Update>> {
    let mut current: HashMap<u32, Row> = HashMap::new();
    epochs
        .iter()
        .map(|steps| {
            let mut out = Vec::new();
            for step in steps {
                if let Some(old) = current.remove(&step.key()) {
                    out.push(((step.key(), old), -1));
                }
                if let Step::Set(k, ts, score) = *step {
                    current.insert(k, (ts, score));
                    out.push(((k, (ts, score)), 1));
                }
            }
            out
        })
        .collect()
}

#[derive(Default)]
struct Captured {
    actions: Vec<(ActionEvent<u32>, isize)>,
    alerts: BTreeMap<AlertRow<u32>, isize>,
    stats: BTreeMap<TriggerStats, isize>,
}

/// Runs the trigger over `epochs` (fed by worker 0) and returns a snapshot after every epoch.
fn run(epochs: &[Vec<Step>], policy: TriggerPolicy, workers: usize) -> Vec<Snapshot> {
    let input_epochs = Arc::new(updates(epochs));
    let captured: Arc<Mutex<Captured>> = Arc::default();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let sink = captured.clone();
        let probe = ProbeHandle::new();
        let mut input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, rows) = scope.new_collection::<(u32, Row), isize>();
            let out = rows.trigger(rule(), policy);
            let s = sink.clone();
            out.actions
                .inspect(move |(a, _, d)| s.lock().expect("capture lock").actions.push((a.clone(), *d)))
                .probe_with(&probe);
            let s = sink.clone();
            out.alerts
                .inspect(move |(a, _, d)| add(&mut s.lock().expect("capture lock").alerts, a.clone(), *d))
                .probe_with(&probe);
            let s = sink.clone();
            out.stats
                .inspect(move |(a, _, d)| add(&mut s.lock().expect("capture lock").stats, a.clone(), *d))
                .probe_with(&probe);
            input
        });
        let mut snapshots = Vec::new();
        for (epoch, updates) in input_epochs.iter().enumerate() {
            if worker.index() == 0 {
                for (record, diff) in updates {
                    input.update(*record, *diff);
                }
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
            if worker.index() == 0 {
                snapshots.push(snapshot(&sink.lock().expect("capture lock")));
            }
        }
        snapshots
    })
    .expect("timely runs");
    guards
        .join()
        .into_iter()
        .next()
        .expect("worker 0")
        .expect("worker 0 ran")
}

fn add<D: Ord>(set: &mut BTreeMap<D, isize>, record: D, diff: isize) {
    *set.entry(record).or_insert(0) += diff;
    set.retain(|_, n| *n != 0);
}

fn snapshot(c: &Captured) -> Snapshot {
    assert!(
        c.actions.iter().all(|(_, d)| *d == 1),
        "actions are inserted once, never retracted"
    );
    assert!(
        c.alerts.values().chain(c.stats.values()).all(|n| *n == 1),
        "sets, not multisets"
    );
    let mut actions: Vec<ActionEvent<u32>> = c.actions.iter().map(|(a, _)| a.clone()).collect();
    actions.sort_by(|a, b| (&a.rule, a.seq).cmp(&(&b.rule, b.seq)));
    Snapshot {
        actions,
        alerts: c.alerts.keys().cloned().collect(),
        stats: c.stats.keys().cloned().collect(),
    }
}

/// `(key, state, at, seq, held_back_ms)` of each action.
fn brief(actions: &[ActionEvent<u32>]) -> Vec<(u32, ActionState, i64, u64, i64)> {
    actions
        .iter()
        .map(|a| (a.key, a.state, a.at, a.seq, a.held_back_ms))
        .collect()
}

fn alert(key: u32, since: i64, last_change: i64) -> AlertRow<u32> {
    AlertRow {
        rule: "high".into(),
        key,
        since,
        last_change,
    }
}

fn stats(fired: u64, resolved: u64, suppressed: u64, held_back: u64, released: u64, dropped: u64) -> Vec<TriggerStats> {
    vec![TriggerStats {
        rule: "high".into(),
        fired,
        resolved,
        suppressed,
        held_back,
        released,
        dropped,
    }]
}

use ActionState::{Firing as F, Resolved as R};
use Step::{Delete, Set};

#[test]
fn fires_on_enter_resolves_on_leave_and_ignores_changes_inside_the_set() {
    let epochs = vec![
        vec![Set(1, 1_000, 5), Set(2, 1_000, 9), Set(3, 1_000, 1)],
        vec![Set(1, 2_000, 6), Set(3, 2_000, 2)], // 1 stays in the set, 3 stays out: no action
        vec![Set(1, 3_000, 1)],                   // 1 leaves
        vec![Delete(2)],                          // 2's row is retracted
    ];
    let s = run(&epochs, TriggerPolicy::default(), 1);
    assert_eq!(brief(&s[0].actions), vec![(1, F, 1_000, 0, 0), (2, F, 1_000, 1, 0)]);
    assert_eq!(s[0].alerts, vec![alert(1, 1_000, 1_000), alert(2, 1_000, 1_000)]);
    assert_eq!(s[0].stats, stats(2, 0, 0, 0, 0, 0));
    assert_eq!(s[1].actions, s[0].actions);
    assert_eq!(s[1].alerts, vec![alert(1, 1_000, 2_000), alert(2, 1_000, 1_000)]);
    assert_eq!(brief(&s[2].actions[2..]), vec![(1, R, 3_000, 2, 0)]);
    assert_eq!(s[2].alerts, vec![alert(2, 1_000, 1_000)]);
    // A retraction-only leave is stamped with the retracted row's event time; actions leave
    // in order, so it counts as emitted with the previous one, at 3,000.
    assert_eq!(brief(&s[3].actions[3..]), vec![(2, R, 1_000, 3, 2_000)]);
    assert_eq!(s[3].alerts, vec![]);
    assert_eq!(s[3].stats, stats(2, 2, 0, 0, 0, 0));
}

#[test]
fn stats_rows_exist_before_any_transition() {
    let s = run(&[vec![Set(1, 0, 0)]], TriggerPolicy::default(), 1);
    assert_eq!(s[0].stats, stats(0, 0, 0, 0, 0, 0));
}

#[test]
fn refiring_within_the_dedup_window_is_suppressed_with_its_resolve() {
    let epochs = vec![
        vec![Set(1, 0, 5)],
        vec![Set(1, 60_000, 0)],
        vec![Set(1, 120_000, 5)], // 2 min after the last FIRING: suppressed
        vec![Set(1, 180_000, 0)], // closes a suppressed firing: suppressed too
        vec![Set(1, 299_999, 5)], // still within 5 min
        vec![Set(1, 299_999, 1)],
        vec![Set(1, 300_000, 5)], // 5 min after the last FIRING: fires
    ];
    let s = run(&epochs, TriggerPolicy::default(), 1);
    assert_eq!(brief(&s[1].actions), vec![(1, F, 0, 0, 0), (1, R, 60_000, 1, 0)]);
    assert_eq!(s[3].actions.len(), 2);
    assert_eq!(s[3].alerts, vec![]);
    assert_eq!(s[5].stats, stats(1, 1, 4, 0, 0, 0));
    assert_eq!(brief(&s[6].actions[2..]), vec![(1, F, 300_000, 2, 0)]);
    assert_eq!(s[6].alerts, vec![alert(1, 300_000, 300_000)]);
    assert_eq!(s[6].stats, stats(2, 1, 4, 0, 0, 0));
}

#[test]
fn rate_limit_holds_back_25_simultaneous_firings_and_releases_them_as_the_clock_advances() {
    let burst: Vec<Step> = (0..25).map(|k| Set(k, 0, 10)).collect();
    let epochs = vec![
        burst,
        vec![Set(100, 59_999, 0)], // the clock moves, but not far enough
        vec![Set(100, 60_000, 0)],
        vec![], // no new events: the clock stands still
        vec![Set(100, 200_000, 0)],
    ];
    let s = run(&epochs, TriggerPolicy::default(), 1);
    let now: Vec<_> = (0..10).map(|k| (k, F, 0, u64::from(k), 0)).collect();
    assert_eq!(brief(&s[0].actions), now);
    assert_eq!(s[0].alerts.len(), 10);
    assert_eq!(s[0].stats, stats(10, 0, 0, 15, 0, 0));
    assert_eq!(s[1], s[0]);
    let minute: Vec<_> = (10..20).map(|k| (k, F, 0, u64::from(k), 60_000)).collect();
    assert_eq!(brief(&s[2].actions[10..]), minute);
    assert_eq!(s[2].stats, stats(20, 0, 0, 15, 10, 0));
    assert_eq!(s[3], s[2]);
    let two_minutes: Vec<_> = (20..25).map(|k| (k, F, 0, u64::from(k), 120_000)).collect();
    assert_eq!(brief(&s[4].actions[20..]), two_minutes);
    assert_eq!(s[4].actions.iter().map(|a| a.emitted_at()).max(), Some(120_000));
    assert_eq!(s[4].alerts, (0..25).map(|k| alert(k, 0, 0)).collect::<Vec<_>>());
    assert_eq!(s[4].stats, stats(25, 0, 0, 15, 15, 0));
}

#[test]
fn a_full_hold_back_queue_drops_firings_and_their_resolves_with_counts() {
    let policy = TriggerPolicy {
        max_held_back: 5,
        ..TriggerPolicy::default()
    };
    let epochs = vec![
        (0..25).map(|k| Set(k, 0, 10)).collect(),
        (0..25).map(|k| Set(k, 1_000, 0)).collect(),
        vec![Set(100, 1_000_000, 0)],
    ];
    let s = run(&epochs, policy, 1);
    assert_eq!(s[0].stats, stats(10, 0, 0, 5, 0, 10));
    // Keys 0..15 were admitted, so all 15 RESOLVEDs queue (never dropped); 15..25 were dropped.
    assert_eq!(s[1].stats, stats(10, 0, 0, 20, 0, 20));
    let mut expected: Vec<_> = (10..15).map(|k| (k, F, 0, u64::from(k), 60_000)).collect();
    expected.extend((0..5).map(|k| (k, R, 1_000, 15 + u64::from(k), 59_000)));
    expected.extend((5..15).map(|k| (k, R, 1_000, 15 + u64::from(k), 119_000)));
    assert_eq!(brief(&s[2].actions[10..]), expected);
    assert_eq!(s[2].alerts, vec![]);
    assert_eq!(s[2].stats, stats(15, 15, 0, 20, 20, 20));
}

#[test]
fn two_workers_give_the_same_outputs_as_one() {
    let mut epochs: Vec<Vec<Step>> = vec![(0..30).map(|k| Set(k, i64::from(k) * 1_000, 7)).collect()];
    epochs.push((0..30).step_by(2).map(|k| Set(k, 40_000, 0)).collect());
    epochs.push((0..30).step_by(3).map(Delete).collect());
    epochs.push(vec![Set(99, 400_000, 0)]);
    epochs.push((0..30).map(|k| Set(k, 400_000 + i64::from(k), -6)).collect());
    epochs.push(vec![Set(99, 900_000, 0)]);
    assert_eq!(
        run(&epochs, TriggerPolicy::default(), 2),
        run(&epochs, TriggerPolicy::default(), 1)
    );
}

/// Random per-key histories, split into epochs so that no key changes twice in one epoch.
fn split(steps: &[Step], cuts: &[bool]) -> Vec<Vec<Step>> {
    let mut epochs: Vec<Vec<Step>> = vec![Vec::new()];
    for (i, step) in steps.iter().enumerate() {
        let last = epochs.last().map_or(0, Vec::len);
        let repeats = epochs.last().is_some_and(|e| e.iter().any(|s| s.key() == step.key()));
        if repeats || (last > 0 && cuts.get(i).copied().unwrap_or(false)) {
            epochs.push(Vec::new());
        }
        if let Some(e) = epochs.last_mut() {
            e.push(*step);
        }
    }
    epochs
}

/// Steps over 6 keys with event-time gaps in `gaps`; `deletes` is the share of deletions.
fn history(gaps: std::ops::Range<i64>, deletes: f64) -> impl Strategy<Value = (Vec<Step>, Vec<bool>)> {
    let score = (0.0..1.0f64, -8i64..8).prop_map(move |(p, s)| (p >= deletes).then_some(s));
    let step = (0u32..6, gaps, score);
    prop::collection::vec((step, any::<bool>()), 1..60).prop_map(|plan| {
        let mut ts = 0;
        plan.into_iter()
            .map(|((key, gap, score), cut)| {
                ts += gap;
                (score.map_or(Delete(key), |s| Set(key, ts, s)), cut)
            })
            .unzip()
    })
}

/// From scratch: which keys' current rows satisfy the rule, with since/last_change.
fn naive_alerts(steps: &[Step]) -> Vec<AlertRow<u32>> {
    let mut open: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
    for step in steps {
        match *step {
            Set(k, ts, s) if s.abs() > 4 => {
                let e = open.entry(k).or_insert((ts, ts));
                e.1 = e.1.max(ts);
            }
            _ => {
                open.remove(&step.key());
            }
        }
    }
    open.into_iter()
        .map(|(k, (since, last))| alert(k, since, last))
        .collect()
}

/// From scratch: each key's sequence of transitions.
fn naive_transitions(steps: &[Step]) -> BTreeMap<u32, Vec<(ActionState, i64)>> {
    let mut current: HashMap<u32, Row> = HashMap::new();
    let mut out: BTreeMap<u32, Vec<(ActionState, i64)>> = BTreeMap::new();
    for step in steps {
        let k = step.key();
        let old = current.remove(&k);
        let new = if let Set(_, ts, s) = *step { Some((ts, s)) } else { None };
        let (was, is) = (old.is_some_and(|r| r.1.abs() > 4), new.is_some_and(|r| r.1.abs() > 4));
        if let Some(row) = new {
            current.insert(k, row);
        }
        let at = new.or(old).map_or(0, |r| r.0);
        if was != is {
            out.entry(k).or_default().push((if is { F } else { R }, at));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// With dedup and rate limit off, actions and alerts equal a from-scratch computation at
    /// every epoch, whatever the event times (random gaps, so rows arrive out of order too).
    #[test]
    fn membership_matches_oracle_at_every_epoch((steps, cuts) in history(0..5_000, 0.15), shuffle in any::<bool>()) {
        let steps: Vec<Step> = if shuffle {
            // out-of-order event times: reverse the timestamps, keep the change order
            let times: Vec<i64> = steps.iter().rev().filter_map(|s| if let Set(_, t, _) = s { Some(*t) } else { None }).collect();
            let mut times = times.into_iter();
            steps.iter().map(|s| match *s { Set(k, _, v) => Set(k, times.next().unwrap_or(0), v), d => d }).collect()
        } else { steps };
        let epochs = split(&steps, &cuts);
        let policy = TriggerPolicy { dedup_window_ms: 0, max_actions_per_minute: 0, max_held_back: 0 };
        let snapshots = run(&epochs, policy, 1);
        let mut seen = 0;
        for (i, snap) in snapshots.iter().enumerate() {
            seen += epochs[i].len();
            let prefix = &steps[..seen];
            prop_assert_eq!(&snap.alerts, &naive_alerts(prefix));
            let mut per_key: BTreeMap<u32, Vec<(ActionState, i64)>> = BTreeMap::new();
            for a in &snap.actions {
                per_key.entry(a.key).or_default().push((a.state, a.at));
                prop_assert_eq!(a.held_back_ms >= 0, true);
            }
            prop_assert_eq!(per_key, naive_transitions(prefix));
            let seqs: Vec<u64> = snap.actions.iter().map(|a| a.seq).collect();
            prop_assert_eq!(seqs, (0..snap.actions.len() as u64).collect::<Vec<_>>());
        }
    }

    /// Event times increasing: any split into epochs gives exactly the actions, alerts and
    /// stats of one change per epoch — dedup, hold-back and overflow included. (No deletions:
    /// a retraction-only leave is ordered by its retracted row's older time, so within a
    /// merged epoch it can move ahead of changes made before it.)
    #[test]
    fn epoch_splits_do_not_change_the_outputs(
        (steps, cuts) in history(1..40_000, 0.0),
        dedup in 0i64..400_000,
        per_minute in 1u32..4,
        max_held_back in 0usize..4,
    ) {
        let policy = TriggerPolicy { dedup_window_ms: dedup, max_actions_per_minute: per_minute, max_held_back };
        let one_each: Vec<Vec<Step>> = steps.iter().map(|s| vec![*s]).collect();
        let expected = run(&one_each, policy, 1).pop().unwrap_or_default();
        let actual = run(&split(&steps, &cuts), policy, 1).pop().unwrap_or_default();
        prop_assert_eq!(actual, expected);
    }
}
