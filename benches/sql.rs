//! SQL over a live projection of 1,000,000 keys (`TRIBUTARY_BENCH_EVENTS` changes the count),
//! in process through [`SqlEngine`] — parse, plan, execute, collect — without HTTP:
//!
//! * `sql_1m_keys/point_lookup_fast_path` — `SELECT * FROM summaries WHERE sensor_id = $1`
//!   answered by the key-lookup fast path (no DataFusion plan);
//! * `sql_1m_keys/point_lookup_datafusion` — the same statement planned and run by DataFusion
//!   (`SqlEngine::without_fast_path`), the baseline of the fast path;
//! * `sql_1m_keys/full_scan_count_sum` — `SELECT count(*), sum(readings)`: every row of the
//!   frozen map converted to Arrow and aggregated.
//!
//! Each reports time per query (criterion's median is the figure; p99 under concurrent load
//! comes from `examples/sql_load.rs`). `cargo bench --workspace --bench sql`.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tributary_connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary_engine::{EngineError, LiveCatalog, Pipeline, ProjectionSpec, Runtime, RuntimeConfig};
use tributary_operators::AggregatePerKey;
use tributary_queries::{QueryLimits, QueryRequest, QueryResult, SqlEngine};

/// One row of the projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Summary {
    sensor_id: i64,
    readings: i64,
    mean: f64,
}

/// `keys` readings, one per sensor, into `summaries` keyed by `sensor_id`; returns the
/// finished catalog.
fn catalog(keys: u64) -> Arc<LiveCatalog> {
    let source = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: keys,
        rate: 0,
        limit: Some(keys),
        ..SensorGeneratorConfig::default()
    })
    .expect("valid generator config");
    let build = move |p: &mut Pipeline<'_>| -> Result<(), EngineError> {
        let summaries = p
            .source("readings", &source)?
            .map(|r| (r.sensor_id, r.value))
            .aggregate_per_key()
            .map(|(sensor_id, a)| Summary {
                sensor_id,
                readings: a.count,
                mean: a.avg().unwrap_or(f64::NAN),
            });
        p.projection(
            ProjectionSpec::new("summaries").with_key_columns(["sensor_id"]),
            summaries,
            |s| s.sensor_id,
        )
    };
    let run = Runtime::start(RuntimeConfig::with_workers(2), build).expect("pipeline starts");
    let catalog = run.catalog();
    run.join().expect("pipeline runs");
    catalog
}

fn rows(result: &QueryResult) -> usize {
    result.batches.iter().map(|b| b.num_rows()).sum()
}

fn sql(c: &mut Criterion) {
    let keys = std::env::var("TRIBUTARY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000u64)
        .min(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let catalog = catalog(keys);
    let fast = SqlEngine::new(catalog.clone());
    let planned = SqlEngine::new(catalog).without_fast_path();
    let limits = QueryLimits::default();

    let mut group = c.benchmark_group("sql_1m_keys");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    for (name, engine) in [("point_lookup_fast_path", &fast), ("point_lookup_datafusion", &planned)] {
        let mut key = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                // A different key each time (a multiplicative walk over all keys), so no
                // cache of one row is measured.
                key = (key + 0x9E37_79B9) % keys;
                let request = QueryRequest {
                    sql: "SELECT * FROM summaries WHERE sensor_id = $1".into(),
                    params: vec![json!(key)],
                    min_ticket: None,
                };
                let result = runtime.block_on(engine.run(&request, &limits)).expect("lookup runs");
                assert_eq!(rows(&result), 1, "key {key}");
            });
        });
    }
    assert!(fast.fast_path_answers() > 0, "the fast path answered no lookup");
    assert_eq!(planned.fast_path_answers(), 0, "the baseline took the fast path");

    group.sample_size(10);
    group.bench_function("full_scan_count_sum", |b| {
        let request = QueryRequest::sql("SELECT count(*), sum(readings) FROM summaries");
        b.iter(|| {
            let result = runtime.block_on(fast.run(&request, &limits)).expect("scan runs");
            assert_eq!(rows(&result), 1);
        });
    });
    group.finish();
}

criterion_group!(benches, sql);
criterion_main!(benches);
