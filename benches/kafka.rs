//! Kafka → projection against a real Kafka-protocol broker: `readings` from a 4-partition
//! topic through `KafkaSource` (one consumer per worker, partitions assigned from offset 0,
//! JSON decoding) into a per-sensor count projection, timed until the projection has counted
//! every record, on 1 and 2 workers.
//!
//! Needs a broker: `TRIBUTARY_BENCH_KAFKA=127.0.0.1:9092 cargo bench --workspace --bench kafka`
//! (e.g. Tansu, which `.ci/e2e` installs into `~/.cache/tributary-tools`). Without the
//! variable the bench says so and measures nothing — a broker at a fixed address is never
//! assumed. The topic is produced once per run (its name carries the process id), outside
//! the timing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tributary_connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};
use tributary_connectors::kafka::{KafkaSource, KafkaSourceConfig, StartOffsets};
use tributary_engine::{RunningPipeline, Runtime, RuntimeConfig};
use tributary_operators::CountPerKey;

const PARTITIONS: i32 = 4;
const SENSORS: u64 = 1_000;

/// Produces `events` generated readings round-robin over the partitions of a new topic.
fn produce(brokers: &str, topic: &str, events: u64) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .expect("topic created");
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let generator = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: SENSORS,
        rate: 0,
        ..SensorGeneratorConfig::default()
    })
    .expect("valid generator config");
    for (i, reading) in generator.readings(events).enumerate() {
        let payload = serde_json::to_vec(&reading).expect("a reading serialises");
        let mut record = BaseRecord::<(), [u8]>::to(topic)
            .partition(i as i32 % PARTITIONS)
            .payload(&payload);
        while let Err((_, back)) = producer.send(record) {
            record = back;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    producer.flush(Duration::from_secs(120)).expect("produced");
}

/// Readings the projection has counted so far.
fn counted(run: &RunningPipeline) -> i64 {
    run.catalog()
        .register::<i64, (i64, i64)>("counts", Vec::new())
        .map(|table| table.rows().iter().map(|(_, n)| n).sum())
        .unwrap_or(0)
}

/// One pass: the pipeline on `workers` from offset 0 until it has counted `events`.
fn consume(brokers: &str, topic: &str, events: u64, workers: usize, pass: u64) {
    let source = Arc::new(
        KafkaSource::<SensorReading>::try_new(KafkaSourceConfig {
            brokers: brokers.to_string(),
            topics: vec![topic.to_string()],
            group_id: format!("{topic}-pass-{pass}"),
            start: StartOffsets::Offsets((0..PARTITIONS).map(|p| (p, 0)).collect()),
            ..KafkaSourceConfig::default()
        })
        .expect("valid Kafka source config"),
    );
    let run = Runtime::start(RuntimeConfig::with_workers(workers), move |p| {
        let counts = p
            .source("readings", source.as_ref())?
            .map(|r| (r.sensor_id, ()))
            .count_per_key();
        p.projection("counts", counts, |(sensor, _)| *sensor)
    })
    .expect("pipeline starts");
    let started = Instant::now();
    while counted(&run) < events as i64 {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "not all records counted in 10 min"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(counted(&run), events as i64, "records counted twice");
    run.shutdown().expect("pipeline stops");
}

fn kafka(c: &mut Criterion) {
    let Ok(brokers) = std::env::var("TRIBUTARY_BENCH_KAFKA") else {
        eprintln!("kafka bench skipped: set TRIBUTARY_BENCH_KAFKA=HOST:PORT to a Kafka-protocol broker");
        return;
    };
    let events = std::env::var("TRIBUTARY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000u64);
    let topic = format!("bench-readings-{}", std::process::id());
    produce(&brokers, &topic, events);

    let mut group = c.benchmark_group("kafka_to_projection");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    let mut pass = 0;
    for workers in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, &w| {
            b.iter(|| {
                pass += 1;
                consume(&brokers, &topic, events, w, pass);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, kafka);
criterion_main!(benches);
