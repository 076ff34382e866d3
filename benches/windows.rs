//! Event-time windows over generated events, dataflow only (no runtime, no source):
//!
//! * `tumbling_count_per_key` — `windowed(tumbling 1 s)` then `count_per_key`, 1,000 keys;
//! * `hopping_count_per_key` — `windowed(hopping 1 s, slide 250 ms)` then `count_per_key`
//!   (each event lands in 4 windows), 1,000 keys;
//! * `session_windows` — `session_windows(gap 50 ms)`, 1,000 keys.
//!
//! Events arrive out of order: event times jitter by up to 300 ms around an advancing clock,
//! so windows and sessions keep receiving late updates. Input is cut into epochs of 10,000
//! events, as the runtime would.
//!
//! `cargo bench --workspace --bench windows` measures; `cargo test --workspace --bench windows`
//! runs it once as a smoke test (`--workspace` keeps the fast suite's feature set).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tributary_engine::differential_dataflow::input::Input;
use tributary_engine::timely::dataflow::ProbeHandle;
use tributary_engine::{Collection, timely};
use tributary_operators::{CountPerKey, SessionWindows, WindowSpec, Windowed};

const KEYS: u64 = 1_000;
const EPOCH: u64 = 10_000;

fn events() -> u64 {
    std::env::var("TRIBUTARY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Event `i`: key `i % KEYS`, event time ≈ `i / 10` ms with a deterministic jitter.
fn event(i: u64) -> (u64, (i64, u64)) {
    let jitter = (i.wrapping_mul(2_654_435_761) % 600) as i64 - 300;
    (i % KEYS, ((i / 10) as i64 + jitter, i))
}

/// Builds the operators under test and attaches `probe` to their output.
type Build = for<'a> fn(Collection<'a, (u64, (i64, u64))>, &ProbeHandle<u64>);

fn run(events: u64, build: Build) {
    timely::execute_directly(move |worker| {
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, c) = scope.new_collection::<(u64, (i64, u64)), isize>();
            let probe = ProbeHandle::new();
            build(c, &probe);
            (input, probe)
        });
        for i in 0..events {
            input.insert(event(i));
            if (i + 1) % EPOCH == 0 {
                input.advance_to(i / EPOCH + 1);
                input.flush();
                worker.step_while(|| probe.less_than(input.time()));
            }
        }
    });
}

fn tumbling(c: Collection<'_, (u64, (i64, u64))>, probe: &ProbeHandle<u64>) {
    c.windowed(WindowSpec::tumbling(1_000))
        .count_per_key()
        .probe_with(probe);
}

fn hopping(c: Collection<'_, (u64, (i64, u64))>, probe: &ProbeHandle<u64>) {
    c.windowed(WindowSpec::hopping(1_000, 250))
        .count_per_key()
        .probe_with(probe);
}

fn sessions(c: Collection<'_, (u64, (i64, u64))>, probe: &ProbeHandle<u64>) {
    c.session_windows(50).probe_with(probe);
}

fn windows(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("windows");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    group.bench_function("tumbling_count_per_key", |b| b.iter(|| run(events, tumbling)));
    group.bench_function("hopping_count_per_key", |b| b.iter(|| run(events, hopping)));
    group.bench_function("session_windows", |b| b.iter(|| run(events, sessions)));
    group.finish();
}

criterion_group!(benches, windows);
criterion_main!(benches);
