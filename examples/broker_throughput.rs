//! Broker → projection throughput, with the broker's own limit measured beside it.
//!
//! ```text
//! cargo run --example broker_throughput -- kafka 127.0.0.1:9092 200000
//! cargo run --example broker_throughput -- mqtt 127.0.0.1:1883 50000
//! ```
//!
//! Kafka: produces N readings to a fresh 4-partition topic, then times (a) a plain rdkafka
//! consumer reading all of them — what the broker and client can deliver — and (b) a 2-worker
//! Tributary pipeline (`KafkaSource` → per-sensor `count_per_key` projection) until the
//! projection counts N. Both assign the partitions from offset 0 (no group join). MQTT: times (a) a plain QoS 1 subscriber and (b) the pipeline with
//! `MqttSource`, each while N readings are published at QoS 1. The ratio (b)/(a) is what
//! Tributary costs on top of the broker. Results go to BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};
use tributary::connectors::kafka::{KafkaSource, KafkaSourceConfig, StartOffsets};
use tributary::connectors::mqtt::{MqttSource, MqttSourceConfig};
use tributary::engine::source::Source;
use tributary::engine::{EngineError, Pipeline, RunningPipeline, Runtime, RuntimeConfig};
use tributary::operators::CountPerKey;

const PARTITIONS: i32 = 4;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, address, events] = args.as_slice() else {
        anyhow::bail!("usage: broker_throughput kafka|mqtt HOST:PORT EVENTS");
    };
    let events: u64 = events.parse().context("EVENTS must be a number")?;
    let readings: Vec<SensorReading> = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 1_000,
        rate: 0,
        ..SensorGeneratorConfig::default()
    })?
    .readings(events)
    .collect();
    let (broker, pipeline) = match kind.as_str() {
        "kafka" => kafka(address, &readings)?,
        "mqtt" => mqtt(address, &readings)?,
        other => anyhow::bail!("unknown broker kind `{other}`; expected kafka or mqtt"),
    };
    println!(
        "{kind}: {events} events; broker alone {:.0} events/s; broker → Tributary projection {:.0} events/s; ratio {:.2}",
        broker,
        pipeline,
        pipeline / broker
    );
    Ok(())
}

/// Events/s of `n` events in `elapsed`.
fn rate(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// Readings counted per sensor, per worker pair: what the projection has applied.
fn counting<S: Source<SensorReading> + ?Sized>(p: &mut Pipeline<'_>, source: &S) -> Result<(), EngineError> {
    let counts = p.source("readings", source)?.map(|r| (r.sensor_id, ())).count_per_key();
    p.projection("counts", counts, |(sensor, _)| *sensor)
}

fn counted(run: &RunningPipeline) -> i64 {
    run.catalog()
        .register::<i64, (i64, i64)>("counts", Vec::new())
        .map(|table| table.rows().iter().map(|(_, n)| n).sum())
        .unwrap_or(0)
}

/// Waits until the pipeline's projection has counted `n` readings; returns the time taken.
fn wait_counted(run: &RunningPipeline, n: u64, started: Instant) -> anyhow::Result<Duration> {
    while counted(run) < n as i64 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "pipeline did not count {n} in 10 min"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(started.elapsed())
}

fn kafka(brokers: &str, readings: &[SensorReading]) -> anyhow::Result<(f64, f64)> {
    let n = readings.len() as u64;
    let topic = format!("bench-{}", std::process::id());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(admin.create_topics(
        &[NewTopic::new(&topic, PARTITIONS, TopicReplication::Fixed(1))],
        &AdminOptions::new(),
    ))?;
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()?;
    for (i, reading) in readings.iter().enumerate() {
        let payload = serde_json::to_vec(reading)?;
        let mut record = BaseRecord::<(), [u8]>::to(&topic)
            .partition(i as i32 % PARTITIONS)
            .payload(&payload);
        while let Err((_, back)) = producer.send(record) {
            record = back;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    producer.flush(Duration::from_secs(120))?;

    // Both readers assign the partitions from offset 0 rather than join a group, so neither
    // figure includes a group join (seconds on Tansu).
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{topic}-plain"))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment.add_partition_offset(&topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let started = Instant::now();
    let mut read = 0;
    while read < n {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "plain consumer read {read} of {n}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            message?;
            read += 1;
        }
    }
    let broker = rate(n, started.elapsed());

    let source = Arc::new(KafkaSource::<SensorReading>::try_new(KafkaSourceConfig {
        brokers: brokers.to_string(),
        topics: vec![topic.clone()],
        group_id: format!("{topic}-tributary"),
        start: StartOffsets::Offsets((0..PARTITIONS).map(|p| (p, 0)).collect()),
        ..KafkaSourceConfig::default()
    })?);
    let started = Instant::now();
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p| counting(p, source.as_ref()))?;
    let pipeline = rate(n, wait_counted(&run, n, started)?);
    run.shutdown()?;
    Ok((broker, pipeline))
}

fn mqtt(address: &str, readings: &[SensorReading]) -> anyhow::Result<(f64, f64)> {
    let (host, port) = address.rsplit_once(':').context("expected HOST:PORT")?;
    let port: u16 = port.parse()?;
    let n = readings.len() as u64;
    let topic = format!("bench/{}/readings", std::process::id());

    // (a) a plain QoS 1 subscriber.
    let mut options = MqttOptions::new("bench-plain", host, port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(options, 10_000);
    client.subscribe(&topic, QoS::AtLeastOnce)?;
    for event in connection.iter() {
        if matches!(event?, Event::Incoming(Packet::SubAck(_))) {
            break;
        }
    }
    let receiver = std::thread::spawn(move || -> anyhow::Result<Instant> {
        let mut received = 0;
        for event in connection.iter() {
            if matches!(event?, Event::Incoming(Packet::Publish(_))) {
                received += 1;
                if received == n {
                    return Ok(Instant::now());
                }
            }
        }
        anyhow::bail!("subscriber connection ended after {received} of {n}")
    });
    let started = Instant::now();
    publish(host, port, &topic, readings)?;
    let done = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("subscriber thread panicked"))??;
    let broker = rate(n, done - started);
    // The receiver thread has ended with the connection: nothing left to disconnect.
    drop(client);

    // (b) the pipeline.
    let source = Arc::new(MqttSource::<SensorReading>::try_new(MqttSourceConfig {
        host: host.to_string(),
        port,
        topics: vec![topic.clone()],
        client_id: format!("bench-tributary-{}", std::process::id()),
        persistent_session: false,
        ..MqttSourceConfig::default()
    })?);
    let subscribed = source.clone();
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p| counting(p, source.as_ref()))?;
    while !subscribed.is_subscribed() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    publish(host, port, &topic, readings)?;
    let pipeline = rate(n, wait_counted(&run, n, started)?);
    run.shutdown()?;
    Ok((broker, pipeline))
}

/// Publishes every reading at QoS 1 from its own client and waits for the last PUBACK.
fn publish(host: &str, port: u16, topic: &str, readings: &[SensorReading]) -> anyhow::Result<()> {
    let options = MqttOptions::new(format!("bench-publisher-{}", std::process::id()), host, port);
    let (client, mut connection) = Client::new(options, 10_000);
    let payloads: Vec<Vec<u8>> = readings.iter().map(serde_json::to_vec).collect::<Result<_, _>>()?;
    let topic = topic.to_string();
    let sender = std::thread::spawn(move || -> anyhow::Result<()> {
        for payload in payloads {
            client.publish(&topic, QoS::AtLeastOnce, false, payload)?;
        }
        Ok(())
    });
    let mut acked = 0;
    for event in connection.iter() {
        if matches!(event?, Event::Incoming(Packet::PubAck(_))) {
            acked += 1;
            if acked == readings.len() {
                break;
            }
        }
    }
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("publisher thread panicked"))?
}
