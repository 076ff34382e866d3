//! # Tributary connectors
//!
//! Sources and sinks, one module per connector, each behind the engine's
//! [`Source`](tributary_engine::source::Source) contract with a typed serde config whose
//! defaults are documented field by field.
//!
//! * [`generator`] — the deterministic IoT sensor generator, the embedded default source of
//!   `tributary demo` and of the benchmarks;
//! * [`kafka`] — Kafka consumer-group source and producer sink (rdkafka);
//! * [`mqtt`] — MQTT subscription source and publish sink (rumqttc);
//! * [`http`] — a source for streams fed by HTTP ingest alone;
//! * [`dlq`] — the dead-letter file sink;
//! * [`webhook`] — the webhook action sink (retries, circuit breaker, bounded queue);
//! * [`actions`] — what every action sink shares (delivery log, dead letters);
//! * [`history`] — the Parquet history store and the replay source.
//!
//! Every source decodes JSON with the engine's
//! [`JsonDecoder`](tributary_engine::record::JsonDecoder), tags rejects with their
//! [`SourcePosition`](tributary_engine::source::SourcePosition) and sends them to the
//! dead-letter queue; none of them stops on bad input.
#![deny(missing_docs)]

pub mod actions;
pub mod dlq;
pub mod generator;
pub mod history;
pub mod http;
pub mod kafka;
pub mod mqtt;
pub mod webhook;
