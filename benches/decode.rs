//! JSON decoding, the first step of every broker and HTTP source, on one thread (each worker
//! decodes its own share, so events/s scales with workers until the source is the limit):
//!
//! * `typed_sensor_reading` — `JsonDecoder<SensorReading>` (serde into the Rust type, with the
//!   event-time field accepting epoch ms or RFC 3339);
//! * `typed_with_topic_metadata` — the same with the key taken from the MQTT topic
//!   (`decode_with`), as `MqttSource` decodes `sensors/<id>/reading` messages;
//! * `schema_row` — `RowDecoder` for a declared `StreamSchema` (schema-driven sources):
//!   typed columns, nullability and key checks, into a `Row`;
//! * `rfc3339_event_time` — a typed reading whose `ts` is an RFC 3339 string.
//!
//! Payloads are pre-built and vary per event, so the figure is decoding alone.
//!
//! `cargo bench --workspace --bench decode` measures; `cargo test --workspace --bench decode`
//! runs it once as a smoke test (`--workspace` keeps the fast suite's feature set).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tributary_connectors::generator::SensorReading;
use tributary_engine::record::{Column, ColumnType, JsonDecoder, MetadataValue, RowDecoder, StreamSchema};

fn events() -> u64 {
    std::env::var("TRIBUTARY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
        .min(1_000_000)
}

fn payloads(n: u64, rfc3339: bool) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let ts = if rfc3339 {
                format!(
                    "\"2026-01-01T00:{:02}:{:02}.{:03}Z\"",
                    (i / 60_000) % 60,
                    (i / 1_000) % 60,
                    i % 1_000
                )
            } else {
                (1_767_225_600_000 + i).to_string()
            };
            format!(
                r#"{{"sensor_id":{},"ts":{ts},"value":{}.{}}}"#,
                i % 1_000,
                i % 97,
                i % 13
            )
            .into_bytes()
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    let n = events();
    let plain = payloads(n, false);
    let rfc = payloads(n, true);
    let typed = JsonDecoder::<SensorReading>::default();
    // The key comes from the topic, so the payload has no sensor_id of its own.
    let keyed: Vec<Vec<u8>> = (0..n)
        .map(|i| format!(r#"{{"ts":{},"value":{}.{}}}"#, 1_767_225_600_000 + i, i % 97, i % 13).into_bytes())
        .collect();
    let schema = Arc::new(
        StreamSchema::try_new(
            "readings",
            vec![
                Column::required("sensor_id", ColumnType::Int64),
                Column::required("ts", ColumnType::TimestampMs),
                Column::nullable("value", ColumnType::Float64),
            ],
        )
        .and_then(|s| s.with_event_time("ts"))
        .and_then(|s| s.with_key(&["sensor_id"]))
        .expect("valid schema"),
    );
    let rows = RowDecoder::new(schema);

    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function("typed_sensor_reading", |b| {
        b.iter(|| {
            for p in &plain {
                black_box(typed.decode(p).expect("valid payload"));
            }
        })
    });
    group.bench_function("typed_with_topic_metadata", |b| {
        b.iter(|| {
            for (i, p) in keyed.iter().enumerate() {
                let level = MetadataValue::from_topic_level(&(i % 1_000).to_string());
                black_box(typed.decode_with(p, &[("sensor_id", level)]).expect("valid payload"));
            }
        })
    });
    group.bench_function("schema_row", |b| {
        b.iter(|| {
            for p in &plain {
                black_box(rows.decode(p).expect("valid payload"));
            }
        })
    });
    group.bench_function("rfc3339_event_time", |b| {
        b.iter(|| {
            for p in &rfc {
                black_box(typed.decode(p).expect("valid payload"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
