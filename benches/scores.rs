//! Generator → `anomaly_scores(ZScore::all_history())` → the per-key `anomaly_state`
//! projection, on 1 and 2 workers.
//!
//! The generator's readings are in event-time order here (`max_disorder_ms: 0`), the common
//! case the operator is built for: each reading costs O(1) amortised (one Welford step, one
//! checkpoint per distinct event time). Each iteration runs the full runtime to completion,
//! so events/s is whole-pipeline throughput, comparable with `projection`.
//!
//! `cargo bench --workspace --bench scores` measures; `cargo test --workspace --bench scores`
//! runs it once as a smoke test (`--workspace` keeps the fast suite's feature set).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tributary_connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary_engine::{EngineError, Pipeline, Runtime, RuntimeConfig};
use tributary_operators::{AnomalyConfig, AnomalyScores, OrderedFloat, ZScore};

const KEYS: u64 = 100;

fn events() -> u64 {
    std::env::var("TRIBUTARY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
        / 4
}

fn scores(p: &mut Pipeline<'_>, source: &SensorGenerator) -> Result<(), EngineError> {
    let out = p
        .source("readings", source)?
        .map(|r| (r.sensor_id, (r.ts, OrderedFloat(r.value))))
        .anomaly_scores(ZScore::all_history(), AnomalyConfig::default());
    p.projection("anomaly_state", out.state, |s| s.key)
}

fn run_to_completion(workers: usize, events: u64) {
    let source = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: KEYS,
        rate: 0,
        max_disorder_ms: 0,
        limit: Some(events),
        ..SensorGeneratorConfig::default()
    })
    .expect("valid generator config");
    let run =
        Runtime::start(RuntimeConfig::with_workers(workers), move |p| scores(p, &source)).expect("pipeline starts");
    let catalog = run.catalog();
    run.join().expect("pipeline runs");
    let rows = catalog.read().table("anomaly_state").map_or(0, |t| t.row_count());
    // every sensor has more than `min_count` readings, so each has a state row
    assert_eq!(rows as u64, KEYS);
}

fn anomaly_scores(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("generator_to_zscore_100_keys");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    for workers in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, &w| {
            b.iter(|| run_to_completion(w, events));
        });
    }
    group.finish();
}

criterion_group!(benches, anomaly_scores);
criterion_main!(benches);
