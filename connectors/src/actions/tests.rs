//! Broker action sinks: a gated publisher shows the bounded queue refusing and `close`
//! draining; Kafka (librdkafka's mock cluster) shows delivered and dead-lettered outcomes.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::{ClientConfig, Message, Offset};
use serde_json::json;
use tributary_engine::delivery::{ActionRecord, ActionSink, DeliveryLog, DeliveryOutcome};
use tributary_engine::source::{DeadLetterQueue, RejectKind, SourcePosition};

use super::broker::Publisher;
use super::{BrokerActionSink, BrokerQueueConfig, DeliveryContext, kafka_action_sink};
use crate::kafka::KafkaSinkConfig;

fn action(seq: u64) -> ActionRecord {
    ActionRecord::for_trigger(
        "sensor_anomaly",
        seq,
        seq.to_string(),
        "FIRING",
        json!({"sensor_id": seq, "seq": seq}),
    )
}

fn context() -> (DeliveryContext, Arc<DeliveryLog>, Arc<DeadLetterQueue>) {
    let log = Arc::new(DeliveryLog::default());
    let dlq = Arc::new(DeadLetterQueue::in_memory(100));
    (DeliveryContext::new(log.clone(), dlq.clone(), "actions"), log, dlq)
}

fn wait_idle(sink: &BrokerActionSink) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.outstanding() > 0 {
        anyhow::ensure!(Instant::now() < deadline, "{} outstanding", sink.outstanding());
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Publishes only when the test says so: one `Result` per action from `gate`.
struct Gated {
    gate: Arc<Mutex<Receiver<Result<(), String>>>>,
    started: SyncSender<String>,
}

impl Publisher for Gated {
    fn publish(&mut self, action: &ActionRecord) -> Result<(), String> {
        let _ = self.started.send(action.id.clone());
        let gate = self.gate.lock().map_err(|_| "poisoned".to_string())?;
        gate.recv_timeout(Duration::from_secs(20)).map_err(|e| e.to_string())?
    }
}

#[test]
fn a_full_queue_refuses_at_once_and_close_drains_the_rest() -> anyhow::Result<()> {
    let (context, log, dlq) = context();
    let (open, gate) = sync_channel(10);
    let (started, taken) = sync_channel(10);
    let publisher = Gated {
        gate: Arc::new(Mutex::new(gate)),
        started,
    };
    let queue = BrokerQueueConfig { queue_capacity: 1 };
    let sink = BrokerActionSink::start(publisher, "kafka", "alerts".into(), &queue, context)?;
    sink.submit(action(0));
    assert_eq!(
        taken.recv_timeout(Duration::from_secs(20))?,
        "sensor_anomaly:0",
        "in flight"
    );
    sink.submit(action(1)); // queued
    sink.submit(action(2)); // refused
    let c = log.counters();
    assert_eq!((c.enqueued, c.refused, c.queued, c.in_flight), (3, 1, 1, 1));
    let refused = dlq.recent();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].position,
        SourcePosition::Action {
            id: "sensor_anomaly:2".into()
        }
    );
    assert!(
        refused[0].reason.contains("delivery queue full"),
        "{}",
        refused[0].reason
    );

    open.send(Ok(()))?;
    open.send(Err("broker said no".into()))?;
    sink.close();
    let outcomes: Vec<_> = log
        .recent()
        .into_iter()
        .map(|r| (r.action_id, r.outcome, r.error))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                "sensor_anomaly:2".to_string(),
                DeliveryOutcome::DeadLettered,
                Some("delivery queue full (1 actions waiting)".to_string())
            ),
            ("sensor_anomaly:0".to_string(), DeliveryOutcome::Delivered, None),
            (
                "sensor_anomaly:1".to_string(),
                DeliveryOutcome::DeadLettered,
                Some("broker said no".to_string())
            ),
        ]
    );
    sink.submit(action(3));
    let c = log.counters();
    assert_eq!(
        (c.enqueued, c.delivered, c.dead_lettered, c.queued, c.in_flight),
        (4, 1, 3, 0, 0)
    );
    assert!(dlq.recent().iter().all(|l| l.kind == RejectKind::Delivery));
    Ok(())
}

#[test]
fn kafka_actions_are_produced_and_recorded_as_delivered() -> anyhow::Result<()> {
    let cluster = MockCluster::new(1)?;
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("alerts", 1, 1)?;
    let (context, log, _dlq) = context();
    let config = KafkaSinkConfig {
        brokers: brokers.clone(),
        topic: "alerts".into(),
        key_field: Some("sensor_id".into()),
        ..KafkaSinkConfig::default()
    };
    let sink = kafka_action_sink(config, &BrokerQueueConfig::default(), context)?;
    for seq in 0..3 {
        sink.submit(action(seq));
    }
    wait_idle(&sink)?;
    let records = log.recent();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.outcome == DeliveryOutcome::Delivered
        && r.attempts == 1
        && r.sink == "kafka"
        && r.endpoint == "alerts"));

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "actions-check")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset("alerts", 0, Offset::Beginning)?;
    consumer.assign(&partitions)?;
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.len() < 3 && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            received.push(serde_json::from_slice::<serde_json::Value>(
                message.payload().unwrap_or_default(),
            )?);
        }
    }
    assert_eq!(received, (0..3).map(|s| action(s).payload).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn kafka_actions_a_broker_never_acknowledges_are_dead_lettered() -> anyhow::Result<()> {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let (context, log, dlq) = context();
    let config = KafkaSinkConfig {
        brokers: dead.to_string(),
        topic: "alerts".into(),
        properties: [("message.timeout.ms".to_string(), "300".to_string())].into(),
        ..KafkaSinkConfig::default()
    };
    let sink = kafka_action_sink(config, &BrokerQueueConfig::default(), context)?;
    sink.submit(action(5));
    wait_idle(&sink)?;
    let record = log.recent().pop().ok_or_else(|| anyhow::anyhow!("no record"))?;
    assert_eq!((record.outcome, record.attempts), (DeliveryOutcome::DeadLettered, 1));
    let letter = dlq.recent().pop().ok_or_else(|| anyhow::anyhow!("no dead letter"))?;
    assert!(
        letter.reason.starts_with("kafka alerts after 1 attempt(s): "),
        "{}",
        letter.reason
    );
    Ok(())
}
