//! Generator → keyed projections, whole pipeline, on 1 and 2 workers:
//!
//! * `generator_to_count_sum_avg_10k_keys` — count/sum/avg carried in the difference;
//! * `generator_to_stats_100_keys` — the IoT demo's `stats_per_key` (count, sum, min, max,
//!   last by event time), which adds three hierarchical reductions.
//!
//! Each iteration runs a bounded generator (max speed) through the full runtime — epochs,
//! exchange, the aggregate arrangement, the projection sink and the live catalog — to
//! completion, so events/s here is whole-pipeline throughput.
//!
//! `cargo bench --workspace --bench projection` measures; `cargo test --workspace --bench projection`
//! runs it once as a smoke test.

mod common;

use common::{KEYS, generator, totals};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use tributary_connectors::generator::SensorGenerator;
use tributary_engine::{EngineError, Pipeline, Runtime, RuntimeConfig};
use tributary_operators::{OrderedFloat, StatsPerKey};

const STATS_KEYS: u64 = 100;

fn events() -> u64 {
    common::events_or(2_000_000)
}

/// Builds a pipeline over the generator; every pipeline here declares the projection `out`.
type Build = fn(&mut Pipeline<'_>, &SensorGenerator) -> Result<(), EngineError>;

/// Runs `build` over `events` readings of `keys` sensors to completion and checks that the
/// projection has one row per key.
fn run_to_completion(workers: usize, keys: u64, events: u64, build: Build) {
    let source = generator(keys, events);
    let run =
        Runtime::start(RuntimeConfig::with_workers(workers), move |p| build(p, &source)).expect("pipeline starts");
    let catalog = run.catalog();
    run.join().expect("pipeline runs");
    let rows = catalog.read().table("out").map_or(0, |t| t.row_count());
    assert_eq!(rows as u64, keys.min(events));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyExtremes {
    key: i64,
    count: i64,
    min: f64,
    max: f64,
    last: f64,
}

fn stats(p: &mut Pipeline<'_>, source: &SensorGenerator) -> Result<(), EngineError> {
    let stats = p
        .source("readings", source)?
        .map(|r| (r.sensor_id, (r.ts, OrderedFloat(r.value))))
        .stats_per_key()
        .map(|(key, s)| KeyExtremes {
            key,
            count: s.aggregate.count,
            min: s.min.0,
            max: s.max.0,
            last: s.last.0,
        });
    p.projection("out", stats, |row| row.key)
}

fn stats_projection(c: &mut Criterion) {
    let events = events() / 4;
    let mut group = c.benchmark_group("generator_to_stats_100_keys");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    for workers in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, &w| {
            b.iter(|| run_to_completion(w, STATS_KEYS, events, stats));
        });
    }
    group.finish();
}

fn keyed_projection(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("generator_to_count_sum_avg_10k_keys");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    for workers in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, &w| {
            b.iter(|| run_to_completion(w, KEYS, events, totals::<SensorGenerator>));
        });
    }
    group.finish();
}

criterion_group!(benches, keyed_projection, stats_projection);
criterion_main!(benches);
