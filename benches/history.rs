//! History: what writing Parquet history costs, how fast a restart recovers from it and how
//! fast a replay runs over it, on 1 and 2 workers, for the reference count/sum/avg pipeline
//! (10,000 keys; see `common.rs`):
//!
//! * `history/live_without_history` — the pipeline alone (the baseline of this group);
//! * `history/live_with_parquet_history` — the same with every reading written to zstd
//!   Parquet with the manifest and fsyncs (a fresh directory per iteration), so the ratio to
//!   the baseline is the cost of history;
//! * `history/recovery` — a restart on that history with nothing new to read: read the
//!   Parquet files, replay every original epoch, rebuild the projection (a fresh copy of the
//!   history per iteration, made outside the timing);
//! * `history/replay` — `HistoryReplay` as `tributary replay` runs it.
//!
//! The IoT pipeline's figures over the same history are in `examples/history_bench.rs`; here
//! the pipeline is the cheap one, so the rows show what history itself costs.
//!
//! `cargo bench --workspace --bench history` measures; CI's smoke run
//! (`cargo test --workspace --bench '*'`) runs each bench once.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{KEYS, generator, totals};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tempfile::TempDir;
use tributary_connectors::generator::SensorGenerator;
use tributary_connectors::history::{HistoryReplay, ParquetHistoryConfig, ParquetHistoryStore, ReplayOptions};
use tributary_engine::history::HistoryStore;
use tributary_engine::source::DeadLetterQueue;
use tributary_engine::{LiveCatalog, Runtime, RuntimeConfig};

/// The pipeline over `source` to its end on `workers`, with history in `dir/history` if given.
fn live(source: &SensorGenerator, workers: usize, dir: Option<&Path>) -> Arc<LiveCatalog> {
    let store = dir.map(|dir| {
        let store: Arc<dyn HistoryStore> =
            Arc::new(ParquetHistoryStore::open(ParquetHistoryConfig::in_data_dir(dir)).expect("history opens"));
        store
    });
    let source = source.clone();
    let run = Runtime::start_with_history(
        RuntimeConfig::with_workers(workers),
        Arc::new(DeadLetterQueue::default()),
        Arc::default(),
        store,
        move |p| totals(p, &source),
    )
    .expect("pipeline starts");
    let catalog = run.catalog();
    run.join().expect("pipeline runs");
    catalog
}

/// Checks that the run saw every reading: the counts of the projection add up to `events`.
fn assert_complete(catalog: &LiveCatalog, events: u64) {
    let table = catalog.table("out").expect("projection out");
    let batch = table.snapshot().expect("snapshot");
    let counts = batch
        .column_by_name("count")
        .and_then(|c| c.as_any().downcast_ref::<arrow::array::Int64Array>())
        .expect("an Int64 count column");
    assert_eq!(
        counts.iter().flatten().sum::<i64>() as u64,
        events,
        "readings lost or doubled"
    );
}

/// A copy of the data directory `from` (its `history/` folder) in a new temporary directory.
fn copy_data_dir(from: &Path) -> TempDir {
    let to = tempfile::tempdir().expect("temporary directory");
    copy_tree(&from.join("history"), &to.path().join("history"));
    to
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

fn history(c: &mut Criterion) {
    let events = common::events_or(1_000_000);
    let source = generator(KEYS, events);
    let mut group = c.benchmark_group("history");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    for workers in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("live_without_history", workers), &workers, |b, &w| {
            b.iter(|| assert_complete(&live(&source, w, None), events));
        });
        group.bench_with_input(
            BenchmarkId::new("live_with_parquet_history", workers),
            &workers,
            |b, &w| {
                b.iter_batched(
                    || tempfile::tempdir().expect("temporary directory"),
                    |dir| {
                        assert_complete(&live(&source, w, Some(dir.path())), events);
                        dir
                    },
                    BatchSize::PerIteration,
                );
            },
        );

        // One history written by this worker count: recovery resumes each worker's own
        // generator slots, so it needs the same count; replay reads it on any.
        let written = tempfile::tempdir().expect("temporary directory");
        assert_complete(&live(&source, workers, Some(written.path())), events);
        group.bench_with_input(BenchmarkId::new("recovery", workers), &workers, |b, &w| {
            b.iter_batched(
                || copy_data_dir(written.path()),
                |dir| {
                    assert_complete(&live(&source, w, Some(dir.path())), events);
                    dir
                },
                BatchSize::PerIteration,
            );
        });
        group.bench_with_input(BenchmarkId::new("replay", workers), &workers, |b, &w| {
            b.iter(|| {
                let replay = HistoryReplay::open(
                    "readings",
                    ReplayOptions {
                        dir: written.path().join("history"),
                        until: None,
                    },
                )
                .expect("history opens");
                let run = Runtime::start(ReplayOptions::runtime_config(w), move |p| totals(p, &replay))
                    .expect("replay starts");
                let catalog = run.catalog();
                run.join().expect("replay runs");
                assert_complete(&catalog, events);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
