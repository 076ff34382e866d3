//! Triggers over a projection: 100,000 row updates over 1,000 keys, 1% of them setting a
//! score above the threshold (so about 2% of updates make a FIRING or RESOLVED transition),
//! on 1 and 2 workers.
//!
//! The projection's change stream is fed directly (retract the key's old row, insert the new
//! one, 1,000 updates per epoch) so the bench measures the trigger alone: the membership pass
//! on the key's worker, the exchange of transitions to the governing worker, and dedup and
//! rate limiting with the default policy (the burst overflows the rate limit, so the
//! hold-back queue is exercised too).
//!
//! `cargo bench --workspace --bench triggers` measures; `cargo test --workspace --bench triggers`
//! runs it once as a smoke test (`--workspace` keeps the fast suite's feature set).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tributary_engine::differential_dataflow::input::Input;
use tributary_engine::timely;
use tributary_operators::{TriggerPolicy, TriggerRule, Triggers};

const KEYS: u64 = 1_000;
const PER_EPOCH: u64 = 1_000;

fn events() -> u64 {
    std::env::var("TRIBUTARY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// The row of update `i`: `(event time, score)`, above the threshold for 1% of updates.
fn row(i: u64) -> (i64, i64) {
    let score = if i % 100 == 7 { 10 } else { (i % 3) as i64 };
    (i as i64, score)
}

fn run(workers: usize, events: u64) {
    timely::execute(timely::Config::process(workers), move |worker| {
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, rows) = scope.new_collection::<(u64, (i64, i64)), isize>();
            let rule = TriggerRule::new("high", |r: &(i64, i64)| r.1.abs() > 4, |r| r.0);
            let out = rows.trigger(rule, TriggerPolicy::default());
            let (probe, _) = out.actions.probe();
            (input, probe)
        });
        if worker.index() == 0 {
            let mut current: Vec<Option<(i64, i64)>> = vec![None; KEYS as usize];
            for i in 0..events {
                let key = i % KEYS;
                let new = row(i);
                if let Some(old) = current[key as usize].replace(new) {
                    input.update((key, old), -1);
                }
                input.update((key, new), 1);
                if (i + 1) % PER_EPOCH == 0 {
                    input.advance_to((i + 1) / PER_EPOCH);
                    input.flush();
                    worker.step_while(|| probe.less_than(input.time()));
                }
            }
        }
        input.close();
        while worker.step() {}
    })
    .expect("timely runs");
}

fn triggers(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("triggers_1k_keys_1pct_crossing");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    for workers in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, &w| {
            b.iter(|| run(w, events));
        });
    }
    group.finish();
}

criterion_group!(benches, triggers);
criterion_main!(benches);
