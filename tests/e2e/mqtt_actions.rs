//! The IoT pipeline's alert actions delivered to a real Mosquitto: every action in the
//! `actions` projection arrives once on `alerts/<sensor_id>`, and the delivery log counts
//! each as delivered after one attempt.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tributary::connectors::actions::{BrokerQueueConfig, DeliveryContext, mqtt_action_sink};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::mqtt::MqttSinkConfig;
use tributary::engine::delivery::{ActionSink, DeliveryLog};
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::pipelines::iot;

use crate::mosquitto::Mosquitto;
use crate::support::wait_until;

/// `(sensor_id, state, seq)` of one action.
type Action = (i64, String, i64);

#[test]
fn iot_actions_are_published_to_mosquitto_exactly_once() -> anyhow::Result<()> {
    let broker = Mosquitto::start()?;
    let (client, mut connection) = Client::new(MqttOptions::new("actions-follower", "127.0.0.1", broker.port()), 256);
    client.subscribe("alerts/#", QoS::AtLeastOnce)?;
    let (received_tx, received) = channel::<(String, Value)>();
    let (subscribed_tx, subscribed) = channel::<()>();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subscribed_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let payload = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                    if received_tx.send((p.topic, payload)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    subscribed.recv_timeout(Duration::from_secs(10))?;

    let log = Arc::new(DeliveryLog::default());
    let dead_letters = Arc::new(DeadLetterQueue::default());
    let sink = Arc::new(mqtt_action_sink(
        MqttSinkConfig {
            port: broker.port(),
            topic: "alerts/{sensor_id}".into(),
            client_id: "tributary-actions".into(),
            ..MqttSinkConfig::default()
        },
        &BrokerQueueConfig::default(),
        DeliveryContext::new(log.clone(), dead_letters.clone(), iot::ACTIONS),
    )?);
    let source = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        limit: Some(20_000),
        spike_probability: 0.002,
        ..SensorGeneratorConfig::default()
    })?;
    let sinks: Vec<Arc<dyn ActionSink>> = vec![sink.clone()];
    let run = Runtime::start_delivering(RuntimeConfig::with_workers(2), dead_letters, log.clone(), move |p| {
        iot::build_delivering(p, &source, &sinks)
    })?;
    let catalog = run.catalog();
    run.join()?;
    wait_until("the MQTT action sink to drain", Duration::from_secs(60), || {
        sink.outstanding() == 0
    })?;

    let actions = catalog
        .read()
        .table(iot::ACTIONS)
        .ok_or_else(|| anyhow::anyhow!("no actions table"))?
        .snapshot()?;
    let column = |name: &str| {
        actions
            .column_by_name(name)
            .ok_or_else(|| anyhow::anyhow!("no column {name}"))
    };
    let (sensors, seqs) = (
        column("sensor_id")?.as_primitive::<Int64Type>(),
        column("seq")?.as_primitive::<Int64Type>(),
    );
    let states = datafusion::arrow::compute::cast(column("state")?, &datafusion::arrow::datatypes::DataType::Utf8)?;
    let states = states.as_string::<i32>();
    let expected: BTreeSet<Action> = (0..actions.num_rows())
        .map(|i| (sensors.value(i), states.value(i).to_string(), seqs.value(i)))
        .collect();
    anyhow::ensure!(
        !expected.is_empty(),
        "the spikes fired no alert: the test would prove nothing"
    );

    let mut got: Vec<Action> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < expected.len() && Instant::now() < deadline {
        if let Ok((topic, payload)) = received.recv_timeout(Duration::from_millis(100)) {
            let sensor = payload["sensor_id"].as_i64().unwrap_or(-1);
            assert_eq!(topic, format!("alerts/{sensor}"), "{payload}");
            let state = payload["state"].as_str().unwrap_or_default().to_string();
            got.push((sensor, state, payload["seq"].as_i64().unwrap_or(-1)));
        }
    }
    // Nothing more arrives: QoS 1 may redeliver, but only after a reconnect.
    if let Ok(extra) = received.recv_timeout(Duration::from_millis(500)) {
        anyhow::bail!("an action arrived twice or unexpectedly: {extra:?}");
    }
    assert_eq!(got.len(), expected.len(), "{got:?}");
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let counters = log.counters();
    assert_eq!(
        (counters.enqueued, counters.delivered, counters.dead_lettered),
        (expected.len() as u64, expected.len() as u64, 0)
    );
    assert!(log.recent().iter().all(|r| r.attempts == 1 && r.sink == "mqtt"));
    sink.close();
    client.disconnect()?;
    Ok(())
}
