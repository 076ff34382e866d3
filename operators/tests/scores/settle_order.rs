//! The state output read in epoch order, as the live table applies it: with readings
//! waiting to settle when the input ends, no key's state may ever be retracted at an
//! earlier epoch than it was inserted (a negative row), nor may a key show two states.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use differential_dataflow::input::Input;
use tributary_operators::{AnomalyConfig, AnomalyScores, AnomalyState, OrderedFloat, ZScore};

/// `(sensor, (ts, value))`.
type Reading = (u32, (i64, OrderedFloat<f64>));

/// Four sensors, a reading a second each with a spike now and then, delivered up to 5 s
/// out of order (beyond the 3 s settle span, so some readings wait and some correct).
fn disordered_epochs() -> Vec<Vec<(Reading, isize)>> {
    let mut arrivals = Vec::new();
    let mut state = 17u64;
    for i in 0..80i64 {
        for sensor in 0..4u32 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let jitter = ((state >> 33) % 5_000) as i64;
            let value = if i % 37 == 36 {
                500.0
            } else {
                20.0 + ((i * 7 + i64::from(sensor)) % 10) as f64
            };
            arrivals.push((i * 1000 + jitter, (sensor, (i * 1000, OrderedFloat(value)))));
        }
    }
    arrivals.sort_by_key(|(arrival, _)| *arrival);
    arrivals
        .chunks(6)
        .map(|c| c.iter().map(|(_, r)| (*r, 1)).collect())
        .collect()
}

/// Every state update with its epoch, as captured.
type Captured = Arc<Mutex<Vec<(AnomalyState<u32>, u64, isize)>>>;

/// Runs the operator on `workers` workers, stepping to completion after each of the first
/// `stepped` epochs and feeding the rest without stepping, so that the input ends while
/// readings still wait; returns every state update with its epoch.
fn state_updates(workers: usize, stepped: usize) -> Vec<(AnomalyState<u32>, u64, isize)> {
    let config = AnomalyConfig {
        threshold: 4.0,
        min_count: 5,
        settle_ms: 3_000,
    };
    let captured: Captured = Arc::default();
    let sink = captured.clone();
    let epochs = Arc::new(disordered_epochs());
    timely::execute(timely::Config::process(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let sink = sink.clone();
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, readings) = scope.new_collection::<Reading, isize>();
            let (probe, _) = readings
                .anomaly_scores(ZScore::all_history(), config)
                .state
                .inspect(move |update| sink.lock().expect("sink").push(update.clone()))
                .probe();
            (input, probe)
        });
        for (epoch, updates) in epochs.iter().enumerate() {
            for (reading, diff) in updates.iter().skip(index).step_by(peers) {
                input.update(*reading, *diff);
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            if epoch < stepped {
                worker.step_while(|| probe.less_than(input.time()));
            }
        }
    })
    .expect("timely runs");
    captured.lock().expect("captured").clone()
}

#[test]
fn state_is_never_retracted_before_it_is_inserted() {
    let total = disordered_epochs().len();
    for workers in [1, 2] {
        for stepped in [total / 2, total - 3, total] {
            let updates = state_updates(workers, stepped);
            let times: BTreeSet<u64> = updates.iter().map(|(_, t, _)| *t).collect();
            for &time in &times {
                let mut accumulated: BTreeMap<&AnomalyState<u32>, isize> = BTreeMap::new();
                for (state, _, diff) in updates.iter().filter(|(_, t, _)| *t <= time) {
                    *accumulated.entry(state).or_insert(0) += diff;
                }
                accumulated.retain(|_, n| *n != 0);
                let mut per_key: BTreeMap<u32, isize> = BTreeMap::new();
                for (state, n) in &accumulated {
                    assert!(
                        *n > 0,
                        "{workers} worker(s), {stepped} stepped: sensor {} state retracted before it was inserted, at epoch {time}",
                        state.key
                    );
                    *per_key.entry(state.key).or_insert(0) += n;
                }
                assert!(
                    per_key.values().all(|n| *n == 1),
                    "{workers} worker(s), {stepped} stepped: two states for one sensor at epoch {time}: {per_key:?}"
                );
            }
            let last = times.last().copied().unwrap_or(0);
            let sensors: BTreeSet<u32> = updates
                .iter()
                .filter(|(_, t, _)| *t <= last)
                .map(|(s, _, _)| s.key)
                .collect();
            assert_eq!(sensors.len(), 4, "every sensor has a state");
        }
    }
}
