//! Kafka: a consumer-group source and a producer sink (rdkafka, bundled librdkafka).

mod config;

pub use config::{KafkaEventTime, KafkaSinkConfig, KafkaSourceConfig, StartOffsets};
