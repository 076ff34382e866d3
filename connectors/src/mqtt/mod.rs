//! MQTT: a subscription source and a publish sink (rumqttc).

mod config;

pub use config::{MqttSinkConfig, MqttSourceConfig, MqttTls};
