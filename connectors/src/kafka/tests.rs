//! Fast tests against librdkafka's in-process mock cluster (nothing installed): a real
//! two-worker pipeline over a 4-partition topic with good and bad records, and the sink.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::{ClientConfig, Message, Offset};
use serde::{Deserialize, Serialize};
use tributary_engine::source::{RejectKind, SourcePosition};
use tributary_engine::{EngineError, Pipeline, Runtime, RuntimeConfig};
use tributary_operators::CountPerKey;

use super::*;
use crate::generator::SensorReading;

const PARTITIONS: i32 = 4;
const SENSORS: i64 = 10;
const GOOD: i64 = 2_000;
const MAX_RECORD_BYTES: usize = 512;

/// One row of the test projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SensorCount {
    sensor_id: i64,
    count: i64,
}

/// Bad messages, what the DLQ must say about them, and the partition they go to.
fn bad_messages() -> Vec<(Option<Vec<u8>>, RejectKind, &'static str)> {
    let oversized = format!(
        r#"{{"sensor_id": 1, "ts": 5, "value": 1.0, "pad": "{}"}}"#,
        "x".repeat(600)
    );
    vec![
        (
            Some(br#"{"sensor_id": 1, "ts": "#.to_vec()),
            RejectKind::MalformedJson,
            "EOF",
        ),
        (
            Some(br#"{"sensor_id": "one", "ts": 5, "value": 1.0}"#.to_vec()),
            RejectKind::InvalidFields,
            "sensor_id",
        ),
        (
            Some(br#"{"sensor_id": 1, "value": 1.0}"#.to_vec()),
            RejectKind::InvalidFields,
            "ts",
        ),
        (Some(oversized.into_bytes()), RejectKind::Oversized, "limit"),
        (
            Some(b"{\"sensor_id\": 1, \"ts\": 5, \"value\": \xff}".to_vec()),
            RejectKind::InvalidUtf8,
            "UTF-8",
        ),
        (
            Some(br#"{"sensor_id": 1, "ts": "yesterday", "value": 1.0}"#.to_vec()),
            RejectKind::InvalidFields,
            "ts",
        ),
        (None, RejectKind::MalformedJson, "empty message"),
    ]
}

fn producer(brokers: &str) -> anyhow::Result<ThreadedProducer<DefaultProducerContext>> {
    Ok(ClientConfig::new().set("bootstrap.servers", brokers).create()?)
}

/// Produces the good readings (round-robin over partitions) and the bad messages.
fn produce_all(brokers: &str, topic: &str) -> anyhow::Result<()> {
    let producer = producer(brokers)?;
    for i in 0..GOOD {
        let payload = serde_json::to_vec(&SensorReading {
            sensor_id: i % SENSORS,
            ts: 1_700_000_000_000 + i,
            value: i as f64 / 4.0,
        })?;
        let partition = (i % i64::from(PARTITIONS)) as i32;
        producer
            .send(BaseRecord::<(), _>::to(topic).partition(partition).payload(&payload))
            .map_err(|(e, _)| e)?;
    }
    for (i, (payload, _, _)) in bad_messages().into_iter().enumerate() {
        let record = BaseRecord::<str, [u8]>::to(topic)
            .partition(i as i32 % PARTITIONS)
            .key("bad");
        let record = match &payload {
            Some(bytes) => record.payload(bytes.as_slice()),
            None => record,
        };
        producer.send(record).map_err(|(e, _)| e)?;
    }
    producer.flush(Duration::from_secs(10))?;
    Ok(())
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("timed out after {timeout:?} waiting for {what}")
}

fn partition_list(topic: &str) -> anyhow::Result<TopicPartitionList> {
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition(topic, partition);
    }
    Ok(list)
}

/// Readings counted per sensor into the projection `counts`.
fn counting(p: &mut Pipeline<'_>, source: &KafkaSource<SensorReading>) -> Result<(), EngineError> {
    let counts = p
        .source("readings", source)?
        .map(|r: SensorReading| (r.sensor_id, ()))
        .count_per_key()
        .map(|(sensor_id, count)| SensorCount { sensor_id, count });
    p.projection("counts", counts, |row| row.sensor_id)
}

#[test]
fn pipeline_counts_good_records_dead_letters_bad_ones_and_commits_offsets() -> anyhow::Result<()> {
    let cluster = MockCluster::new(1)?;
    let brokers = cluster.bootstrap_servers();
    let topic = "readings";
    cluster.create_topic(topic, PARTITIONS, 1)?;

    let source = Arc::new(KafkaSource::<SensorReading>::try_new(KafkaSourceConfig {
        brokers: brokers.clone(),
        topics: vec![topic.to_string()],
        group_id: "counts".to_string(),
        max_record_bytes: MAX_RECORD_BYTES,
        session_timeout_ms: 6_000,
        ..KafkaSourceConfig::default()
    })?);
    let lag = source.lag();
    let build_source = source.clone();
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p| {
        counting(p, build_source.as_ref())
    })?;

    // Produce only once both workers own partitions, so no rebalance replays records (which
    // at-least-once delivery would count twice).
    wait_until("both workers to own partitions", Duration::from_secs(30), || {
        let rows = lag.snapshot();
        rows.len() == PARTITIONS as usize && rows.iter().any(|r| r.worker == 0) && rows.iter().any(|r| r.worker == 1)
    })?;
    produce_all(&brokers, topic)?;

    let bad = bad_messages();
    let produced = GOOD as u64 + bad.len() as u64;
    let catalog = run.catalog();
    let counters = run.counters();
    let table = catalog.register::<i64, SensorCount>("counts", Vec::new())?;
    wait_until("every record to be counted", Duration::from_secs(30), || {
        counters
            .snapshot()
            .get("readings")
            .is_some_and(|c| c.received == produced)
            && table.rows().iter().map(|r| r.count).sum::<i64>() == GOOD
    })?;

    let expected: Vec<SensorCount> = (0..SENSORS)
        .map(|sensor_id| SensorCount {
            sensor_id,
            count: GOOD / SENSORS,
        })
        .collect();
    let mut rows = table.rows();
    rows.sort_by_key(|r| r.sensor_id);
    assert_eq!(rows, expected);

    let c = counters.snapshot()["readings"];
    assert_eq!(
        (c.received, c.accepted, c.dead_lettered),
        (produced, GOOD as u64, bad.len() as u64)
    );

    let letters = run.dead_letters().recent();
    assert_eq!(letters.len(), bad.len());
    for (i, (payload, kind, reason)) in bad.iter().enumerate() {
        let raw = payload.clone().unwrap_or_default();
        let letter = letters
            .iter()
            .find(|l| l.raw == raw)
            .ok_or_else(|| anyhow::anyhow!("bad message {i} is not in the DLQ"))?;
        assert_eq!(letter.kind, *kind, "message {i}: {}", letter.reason);
        assert!(letter.reason.contains(reason), "message {i}: {}", letter.reason);
        assert_eq!(letter.stream, "readings");
        let SourcePosition::Kafka {
            topic: t,
            partition,
            offset,
        } = &letter.position
        else {
            anyhow::bail!("message {i} has position {}", letter.position);
        };
        assert_eq!((t.as_str(), *partition), (topic, i as i32 % PARTITIONS));
        assert!(*offset >= 0);
    }

    run.shutdown()?;

    let checker: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "counts")
        .create()?;
    let committed = checker.committed_offsets(partition_list(topic)?, Duration::from_secs(10))?;
    let mut committed_by_partition = BTreeMap::new();
    for e in committed.elements() {
        committed_by_partition.insert(e.partition(), e.offset());
    }
    let mut ends = BTreeMap::new();
    for partition in 0..PARTITIONS {
        let (_, high) = checker.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
        ends.insert(partition, Offset::Offset(high));
    }
    assert_eq!(committed_by_partition, ends, "committed offsets are the end offsets");
    Ok(())
}

#[test]
fn explicit_offsets_assign_partitions_without_a_group_and_skip_earlier_messages() -> anyhow::Result<()> {
    let cluster = MockCluster::new(1)?;
    let brokers = cluster.bootstrap_servers();
    let topic = "assigned";
    cluster.create_topic(topic, PARTITIONS, 1)?;
    produce_all(&brokers, topic)?;

    // Skip the first 100 messages of each partition; the bad ones come after the good ones.
    let start: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 100)).collect();
    let skipped = 100 * i64::from(PARTITIONS);
    let source = Arc::new(KafkaSource::<SensorReading>::try_new(KafkaSourceConfig {
        brokers: brokers.clone(),
        topics: vec![topic.to_string()],
        group_id: "assigned".to_string(),
        start: StartOffsets::Offsets(start),
        event_time: KafkaEventTime::KafkaTimestamp {
            field: "ts".to_string(),
        },
        max_record_bytes: MAX_RECORD_BYTES,
        ..KafkaSourceConfig::default()
    })?);
    let build_source = source.clone();
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p| {
        counting(p, build_source.as_ref())
    })?;
    let catalog = run.catalog();
    let counters = run.counters();
    let table = catalog.register::<i64, SensorCount>("counts", Vec::new())?;
    // With the Kafka timestamp filling a missing `ts`, the bad message without one is
    // accepted: one more good record, one fewer dead letter.
    let bad = bad_messages().len() as u64 - 1;
    let good = GOOD - skipped + 1;
    wait_until("the assigned partitions to be read", Duration::from_secs(30), || {
        counters
            .snapshot()
            .get("readings")
            .is_some_and(|c| c.received == good as u64 + bad)
            && table.rows().iter().map(|r| r.count).sum::<i64>() == good
    })?;
    let c = counters.snapshot()["readings"];
    assert_eq!((c.accepted, c.dead_lettered), (good as u64, bad));
    assert!(
        run.dead_letters()
            .recent()
            .iter()
            .all(|l| l.raw != br#"{"sensor_id": 1, "value": 1.0}"#.to_vec()),
        "the Kafka timestamp fills a missing event time"
    );
    run.shutdown()?;
    Ok(())
}

#[test]
fn sink_produces_json_keyed_by_the_key_field() -> anyhow::Result<()> {
    let cluster = MockCluster::new(1)?;
    let brokers = cluster.bootstrap_servers();
    let topic = "alerts";
    cluster.create_topic(topic, PARTITIONS, 1)?;
    let sink = KafkaSink::<SensorReading>::try_new(KafkaSinkConfig {
        brokers: brokers.clone(),
        topic: topic.to_string(),
        key_field: Some("sensor_id".to_string()),
        ..KafkaSinkConfig::default()
    })?;
    let sent: Vec<SensorReading> = (0..100)
        .map(|i| SensorReading {
            sensor_id: i % 7,
            ts: 1_700_000_000_000 + i,
            value: i as f64 * 0.5,
        })
        .collect();
    for reading in &sent {
        sink.send(reading)?;
    }
    sink.flush(Duration::from_secs(10))?;
    assert_eq!((sink.delivered(), sink.delivery_failures()), (100, 0));

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "sink-check")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut list = partition_list(topic)?;
    list.set_all_offsets(Offset::Beginning)?;
    consumer.assign(&list)?;
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.len() < sent.len() && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            let reading: SensorReading = serde_json::from_slice(message.payload().unwrap_or_default())?;
            let key = std::str::from_utf8(message.key().unwrap_or_default())?.to_string();
            assert_eq!(key, reading.sensor_id.to_string(), "the key is the sensor id as text");
            received.push(reading);
        }
    }
    received.sort_by_key(|r| r.ts);
    assert_eq!(received, sent);
    Ok(())
}

#[test]
fn sink_refuses_records_without_the_key_field() -> anyhow::Result<()> {
    let cluster = MockCluster::new(1)?;
    let sink = KafkaSink::<SensorReading>::try_new(KafkaSinkConfig {
        brokers: cluster.bootstrap_servers(),
        topic: "alerts".to_string(),
        key_field: Some("device".to_string()),
        ..KafkaSinkConfig::default()
    })?;
    let reading = SensorReading {
        sensor_id: 1,
        ts: 0,
        value: 0.0,
    };
    assert!(matches!(sink.send(&reading), Err(KafkaError::MissingKey(f)) if f == "device"));
    Ok(())
}

#[test]
fn configs_are_validated() {
    let source = |config: KafkaSourceConfig| KafkaSource::<SensorReading>::try_new(config).map(|_| ());
    let topics = vec!["t".to_string()];
    assert!(source(KafkaSourceConfig::default()).is_err(), "no topics");
    assert!(
        source(KafkaSourceConfig {
            topics: topics.clone(),
            group_id: " ".to_string(),
            ..KafkaSourceConfig::default()
        })
        .is_err()
    );
    assert!(
        source(KafkaSourceConfig {
            topics: vec!["a".to_string(), "b".to_string()],
            start: StartOffsets::Offsets(BTreeMap::from([(0, 5)])),
            ..KafkaSourceConfig::default()
        })
        .is_err(),
        "explicit offsets need one topic"
    );
    assert!(
        source(KafkaSourceConfig {
            topics: topics.clone(),
            event_time: KafkaEventTime::KafkaTimestamp { field: String::new() },
            ..KafkaSourceConfig::default()
        })
        .is_err()
    );
    assert!(
        source(KafkaSourceConfig {
            topics: topics.clone(),
            session_timeout_ms: 0,
            ..KafkaSourceConfig::default()
        })
        .is_err()
    );
    assert!(
        source(KafkaSourceConfig {
            topics,
            ..KafkaSourceConfig::default()
        })
        .is_ok()
    );
    let sink = KafkaSink::<SensorReading>::try_new(KafkaSinkConfig::default());
    assert!(matches!(sink, Err(KafkaError::InvalidConfig { field: "topic", .. })));
}
