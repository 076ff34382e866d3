//! A generated sensor stream with known spikes, delivered shuffled across many epochs and
//! workers: exactly the spikes are flagged, and the output does not change by a bit.

use std::sync::{Arc, Mutex};

use differential_dataflow::input::Input;
use tributary_operators::{AnomalyConfig, AnomalyScores, AnomalyState, Ewma, OrderedFloat, ScoreRow, Scorer, ZScore};

use crate::oracle::Multiset;

/// `(sensor, (ts, value))`.
type Reading = (u32, (i64, OrderedFloat<f64>));

const SENSORS: u32 = 20;
const PER_SENSOR: i64 = 500;
const AMPLITUDE: f64 = 10.0;
/// (sensor, reading index) of the injected spikes.
const SPIKES: [(u32, i64); 15] = [
    (0, 100),
    (0, 400),
    (1, 150),
    (2, 200),
    (3, 250),
    (4, 300),
    (5, 350),
    (6, 450),
    (8, 120),
    (9, 220),
    (10, 320),
    (11, 420),
    (12, 60),
    (13, 499),
    (19, 11),
];

/// A deterministic pseudo-random sequence (64-bit LCG, top bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 31) as f64
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

/// Sensors reading a sine (period 8 readings) plus noise of 1% of the amplitude, one reading a
/// second, with +40σ spikes (σ of the sine = amplitude/√2) at [`SPIKES`].
fn sensor_stream(sensors: u32, per_sensor: i64) -> Vec<Reading> {
    let mut noise = Lcg(7);
    let sigma = AMPLITUDE / 2f64.sqrt();
    let mut readings = Vec::new();
    for s in 0..sensors {
        for i in 0..per_sensor {
            let phase = std::f64::consts::TAU * (i as f64 / 8.0 + s as f64 / sensors as f64);
            let mut x = AMPLITUDE * phase.sin() + 0.1 * (noise.unit() - 0.5);
            if SPIKES.contains(&(s, i)) {
                x += 40.0 * sigma;
            }
            readings.push((s, (i * 1000, OrderedFloat(x))));
        }
    }
    readings
}

/// Shuffles `updates` with `seed` and cuts them into epochs of 1 to `max_epoch` updates.
fn shuffled_epochs<D>(mut updates: Vec<D>, seed: u64, max_epoch: u64) -> Vec<Vec<D>> {
    let mut rng = Lcg(seed);
    rng.shuffle(&mut updates);
    let mut epochs = Vec::new();
    let mut rest = updates.into_iter().peekable();
    while rest.peek().is_some() {
        let size = 1 + rng.next() % max_epoch;
        epochs.push(rest.by_ref().take(size as usize).collect());
    }
    epochs
}

/// Either output of a sensor run.
type SensorOut = Result<ScoreRow<u32>, AnomalyState<u32>>;

type Outputs = (Multiset<ScoreRow<u32>>, Multiset<AnomalyState<u32>>);

/// Runs `epochs` of `(reading, diff)` on `workers` workers (each worker feeds every
/// `workers`-th update), stepping until each epoch is complete; returns the accumulated
/// outputs.
fn run<S: Scorer + Send + Sync>(
    epochs: Vec<Vec<(Reading, isize)>>,
    workers: usize,
    scorer: S,
    config: AnomalyConfig,
) -> Outputs {
    run_counted(epochs, workers, scorer, config).0
}

/// [`run`], also returning how many score rows were retracted (corrections) on the way.
fn run_counted<S: Scorer + Send + Sync>(
    epochs: Vec<Vec<(Reading, isize)>>,
    workers: usize,
    scorer: S,
    config: AnomalyConfig,
) -> (Outputs, usize) {
    let captured: Arc<Mutex<Vec<(SensorOut, isize)>>> = Arc::default();
    let sink = captured.clone();
    let epochs = Arc::new(epochs);
    timely::execute(timely::Config::process(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let (sink, scorer) = (sink.clone(), scorer.clone());
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, readings) = scope.new_collection::<Reading, isize>();
            let out = readings.anomaly_scores(scorer, config);
            let (probe, _) = out
                .scores
                .map(Ok)
                .concat(out.state.map(Err))
                .inspect(move |(d, _, n)| sink.lock().expect("sink").push((d.clone(), *n)))
                .probe();
            (input, probe)
        });
        for (epoch, updates) in epochs.iter().enumerate() {
            for (i, (reading, diff)) in updates.iter().enumerate() {
                if i % peers == index {
                    input.update(*reading, *diff);
                }
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
        }
    })
    .expect("timely runs");
    let mut out: Outputs = Default::default();
    let mut captured = captured.lock().expect("captured");
    let corrections = captured.iter().filter(|(d, n)| d.is_ok() && *n < 0).count();
    for (d, n) in captured.drain(..) {
        match d {
            Ok(row) => *out.0.entry(row).or_insert(0) += n,
            Err(state) => *out.1.entry(state).or_insert(0) += n,
        }
    }
    out.0.retain(|_, n| *n != 0);
    out.1.retain(|_, n| *n != 0);
    (out, corrections)
}

fn insertions(readings: Vec<Reading>) -> Vec<(Reading, isize)> {
    readings.into_iter().map(|r| (r, 1)).collect()
}

#[test]
fn spikes_are_exactly_the_anomalies() {
    let epochs = shuffled_epochs(insertions(sensor_stream(SENSORS, PER_SENSOR)), 42, 400);
    assert!(epochs.len() > 40);
    let (rows, states) = run(epochs, 1, ZScore::all_history(), AnomalyConfig::default());
    assert!(rows.values().all(|n| *n == 1));
    // every reading with ≥ 10 earlier ones is scored
    assert_eq!(rows.len() as i64, SENSORS as i64 * (PER_SENSOR - 10));
    let flagged: Vec<(u32, i64)> = rows
        .keys()
        .filter(|r| r.is_anomaly)
        .map(|r| (r.key, r.ts / 1000))
        .collect();
    let mut expected = SPIKES.to_vec();
    expected.sort();
    assert_eq!(flagged, expected);
    assert!(rows.keys().filter(|r| r.is_anomaly).all(|r| r.score > 10.0));
    assert_eq!(states.len(), SENSORS as usize);
    for (state, n) in &states {
        let spikes = SPIKES.iter().filter(|(s, _)| *s == state.key).count() as u64;
        assert_eq!((*n, state.ts, state.anomalies), (1, (PER_SENSOR - 1) * 1000, spikes));
        assert_eq!(
            state.is_anomaly,
            state.key == 13,
            "sensor 13 spikes at its last reading"
        );
    }
}

fn bits(outputs: &Outputs) -> Vec<Vec<u64>> {
    let row = |r: &ScoreRow<u32>| {
        vec![
            r.key as u64,
            r.ts as u64,
            r.value.to_bits(),
            r.mean.to_bits(),
            r.std.to_bits(),
            r.score.to_bits(),
        ]
    };
    let state = |s: &AnomalyState<u32>| {
        vec![
            s.key as u64,
            s.ts as u64,
            s.value.to_bits(),
            s.mean.to_bits(),
            s.std.to_bits(),
            s.score.to_bits(),
            s.anomalies,
        ]
    };
    outputs
        .0
        .iter()
        .map(|(r, n)| [row(r), vec![*n as u64]].concat())
        .chain(outputs.1.iter().map(|(s, n)| [state(s), vec![*n as u64]].concat()))
        .collect()
}

/// The readings plus some decoys inserted and later retracted, so retractions take part.
fn with_retracted_decoys(readings: Vec<Reading>, seed: u64) -> Vec<Vec<(Reading, isize)>> {
    let decoys: Vec<Reading> = readings
        .iter()
        .step_by(17)
        .map(|&(k, (ts, x))| (k, (ts + 1, OrderedFloat(x.0 * 3.0))))
        .collect();
    let mut epochs = shuffled_epochs(
        insertions(readings.into_iter().chain(decoys.iter().copied()).collect()),
        seed,
        150,
    );
    epochs.push(decoys.into_iter().map(|d| (d, -1)).collect());
    epochs
}

#[test]
fn epoch_splitting_and_order_do_not_change_a_bit() {
    let readings = sensor_stream(5, 200);
    for (name, scorer) in [("z", 0), ("sliding", 1), ("ewma", 2)] {
        let go = |epochs: Vec<Vec<(Reading, isize)>>| match scorer {
            0 => run(epochs, 1, ZScore::all_history(), AnomalyConfig::default()),
            1 => run(epochs, 1, ZScore::sliding(20_000), AnomalyConfig::default()),
            _ => run(epochs, 1, Ewma::new(0.1), AnomalyConfig::default()),
        };
        let in_order = go(vec![insertions(readings.clone())]);
        let a = go(with_retracted_decoys(readings.clone(), 1));
        let b = go(with_retracted_decoys(readings.clone(), 2));
        assert!(!in_order.0.is_empty(), "{name}");
        assert_eq!(bits(&a), bits(&in_order), "{name}");
        assert_eq!(bits(&b), bits(&in_order), "{name}");
    }
}

#[test]
fn two_workers_agree_with_one() {
    let epochs = shuffled_epochs(insertions(sensor_stream(SENSORS, 100)), 3, 200);
    let config = AnomalyConfig {
        threshold: 2.0,
        min_count: 5,
        settle_ms: 0,
    };
    let one = run(epochs.clone(), 1, ZScore::all_history(), config);
    let two = run(epochs, 2, ZScore::all_history(), config);
    assert!(one.0.keys().any(|r| r.is_anomaly));
    assert_eq!(bits(&one), bits(&two));
}

#[test]
fn duplicates_score_twice_and_ties_do_not_see_each_other() {
    let same = |ts, x: f64| ((1u32, (ts, OrderedFloat(x))), 1);
    let config = AnomalyConfig {
        threshold: 4.0,
        min_count: 2,
        settle_ms: 0,
    };
    let epochs = vec![
        vec![same(3, 5.0), same(3, 5.0), same(3, 9.0)],
        vec![same(1, 1.0), same(2, 3.0)],
    ];
    let (rows, states) = run(epochs, 1, ZScore::all_history(), config);
    // ts 3 sees ts 1 and 2 only: μ = 2, σ = 1
    let got: Vec<(f64, f64, isize)> = rows.iter().map(|(r, n)| (r.value, r.score, *n)).collect();
    assert_eq!(got, vec![(5.0, 3.0, 2), (9.0, 7.0, 1)]);
    let state: Vec<_> = states.keys().map(|s| (s.ts, s.value, s.anomalies)).collect();
    assert_eq!(state, vec![(3, 9.0, 1)]);
}

#[test]
fn settling_changes_when_scores_appear_not_what_they_are() {
    // A settle span longer than the disorder scores every reading in order: the same scores
    // as an eager operator on in-order input, without its corrections.
    let readings = sensor_stream(5, 200);
    let eager = run(
        vec![insertions(readings.clone())],
        1,
        ZScore::all_history(),
        AnomalyConfig::default(),
    );
    let settled = AnomalyConfig {
        settle_ms: 20_000,
        ..AnomalyConfig::default()
    };
    // Up to 10 s (10 readings of a key) out of order, 25 updates per epoch.
    let mut rng = Lcg(11);
    let mut jittered: Vec<(i64, Reading)> = readings
        .iter()
        .map(|&r| (r.1.0 + (rng.next() % 10_000) as i64, r))
        .collect();
    jittered.sort_by_key(|(arrival, _)| *arrival);
    let disordered: Vec<Vec<(Reading, isize)>> = jittered
        .chunks(25)
        .map(|c| c.iter().map(|(_, r)| (*r, 1)).collect())
        .collect();
    let (_, eager_corrections) = run_counted(disordered.clone(), 1, ZScore::all_history(), AnomalyConfig::default());
    assert!(
        eager_corrections > 100,
        "the eager operator corrects: {eager_corrections}"
    );
    for workers in [1, 2] {
        let (out, corrections) = run_counted(disordered.clone(), workers, ZScore::all_history(), settled);
        assert_eq!(bits(&out), bits(&eager), "{workers} worker(s)");
        assert_eq!(
            corrections, 0,
            "{workers} worker(s): settled readings are scored in order"
        );
    }
}
