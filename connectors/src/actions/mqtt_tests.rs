//! The MQTT action sink against an embedded broker on a free loopback port: each action is
//! published at QoS 1 to the topic its template renders and recorded as delivered only
//! once the broker acknowledged it.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use tributary_engine::delivery::{ActionRecord, ActionSink, DeliveryLog, DeliveryOutcome};
use tributary_engine::source::DeadLetterQueue;

use super::{BrokerQueueConfig, DeliveryContext, mqtt_action_sink};
use crate::mqtt::MqttSinkConfig;
use crate::mqtt::tests::{start_broker, wait_until};

fn action(seq: u64, sensor: u64, state: &str) -> ActionRecord {
    ActionRecord::for_trigger(
        "sensor_anomaly",
        seq,
        sensor.to_string(),
        state,
        json!({"rule": "sensor_anomaly", "sensor_id": sensor, "state": state}),
    )
}

#[test]
fn mqtt_actions_reach_their_topics_and_are_recorded_as_delivered() -> anyhow::Result<()> {
    let port = start_broker()?;
    // Subscribe first: the broker keeps nothing for a topic nobody follows.
    let (client, mut connection) = Client::new(MqttOptions::new("actions-check", "127.0.0.1", port), 64);
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

    let log = std::sync::Arc::new(DeliveryLog::default());
    let dlq = std::sync::Arc::new(DeadLetterQueue::in_memory(100));
    let context = DeliveryContext::new(log.clone(), dlq.clone(), "actions");
    let config = MqttSinkConfig {
        port,
        topic: "alerts/{sensor_id}".into(),
        client_id: "actions-sink".into(),
        ..MqttSinkConfig::default()
    };
    let sink = mqtt_action_sink(config, &BrokerQueueConfig::default(), context)?;
    let sent = [action(0, 3, "FIRING"), action(1, 8, "FIRING"), action(2, 3, "RESOLVED")];
    for a in &sent {
        sink.submit(a.clone());
    }
    wait_until("the sink to drain", Duration::from_secs(30), || sink.outstanding() == 0)?;

    let records = log.recent();
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(
        records.iter().all(|r| r.outcome == DeliveryOutcome::Delivered
            && r.attempts == 1
            && r.sink == "mqtt"
            && r.endpoint == "alerts/{sensor_id}"),
        "{records:?}"
    );
    assert!(dlq.recent().is_empty());

    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < sent.len() && Instant::now() < deadline {
        if let Ok(message) = received.recv_timeout(Duration::from_millis(100)) {
            got.push(message);
        }
    }
    let expected: Vec<(String, Value)> = sent
        .iter()
        .map(|a| (format!("alerts/{}", a.payload["sensor_id"]), a.payload.clone()))
        .collect();
    // One publisher at QoS 1 on one connection: the broker keeps their order.
    assert_eq!(got, expected);
    client.disconnect()?;
    Ok(())
}
