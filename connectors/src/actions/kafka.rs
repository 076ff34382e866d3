//! Actions to a Kafka topic through the existing [`KafkaSink`]: one message per action
//! (the payload as JSON), then a flush, so an action counts as delivered only once the broker
//! acknowledged it.

use std::time::Duration;

use serde_json::Value;
use tributary_engine::delivery::ActionRecord;

use super::DeliveryContext;
use super::broker::{BrokerActionSink, BrokerQueueConfig, BrokerSinkError, Publisher};
use crate::kafka::{KafkaSink, KafkaSinkConfig};

/// How long one action waits for the broker's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

struct KafkaPublisher(KafkaSink<Value>);

impl Publisher for KafkaPublisher {
    fn publish(&mut self, action: &ActionRecord) -> Result<(), String> {
        let failed_before = self.0.delivery_failures();
        self.0.send(&action.payload).map_err(|e| e.to_string())?;
        self.0
            .flush(ACK_TIMEOUT)
            .map_err(|e| format!("not acknowledged within {} s: {e}", ACK_TIMEOUT.as_secs()))?;
        if self.0.delivery_failures() > failed_before {
            return Err("the broker refused the message (see the log)".to_string());
        }
        Ok(())
    }
}

/// A sink that produces each action's payload to `config.topic` (keyed by
/// `config.key_field` of the payload, if set).
pub fn kafka_action_sink(
    config: KafkaSinkConfig,
    queue: &BrokerQueueConfig,
    context: DeliveryContext,
) -> Result<BrokerActionSink, BrokerSinkError> {
    let endpoint = config.topic.clone();
    let sink = KafkaSink::try_new(config)?;
    Ok(BrokerActionSink::start(
        KafkaPublisher(sink),
        "kafka",
        endpoint,
        queue,
        context,
    )?)
}
