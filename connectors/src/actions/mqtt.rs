//! Actions to an MQTT topic through the existing [`MqttSink`]: each payload published at
//! QoS 1 to the topic its template renders (`alerts/{sensor_id}`), then a flush, so an action
//! counts as delivered only once the broker acknowledged it (or the flush's 30 s passed).

use serde_json::Value;
use tributary_engine::delivery::ActionRecord;

use super::DeliveryContext;
use super::broker::{BrokerActionSink, BrokerQueueConfig, BrokerSinkError, Publisher};
use crate::mqtt::{MqttSink, MqttSinkConfig};

struct MqttPublisher(MqttSink<Value>);

impl Publisher for MqttPublisher {
    fn publish(&mut self, action: &ActionRecord) -> Result<(), String> {
        self.0.send(&action.payload).map_err(|e| e.to_string())?;
        self.0.flush().map_err(|e| e.to_string())
    }
}

/// A sink that publishes each action's payload to `config.topic` (a template over the
/// payload's fields).
pub fn mqtt_action_sink(
    config: MqttSinkConfig,
    queue: &BrokerQueueConfig,
    context: DeliveryContext,
) -> Result<BrokerActionSink, BrokerSinkError> {
    let endpoint = config.topic.clone();
    let sink = MqttSink::try_new(config)?;
    Ok(BrokerActionSink::start(
        MqttPublisher(sink),
        "mqtt",
        endpoint,
        queue,
        context,
    )?)
}
