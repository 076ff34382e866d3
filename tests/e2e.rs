//! End-to-end tests against real brokers: a Kafka-protocol broker (Tansu) and Mosquitto,
//! each started by the test on a free loopback port and stopped when it ends.
//!
//! Not part of `cargo test --workspace` (it needs the broker binaries); run it with
//! `bash .ci/e2e`, which installs what is missing and runs
//! `cargo test --workspace --features tributary/e2e --test e2e`. Binaries are found through `TRIBUTARY_TANSU` and
//! `TRIBUTARY_MOSQUITTO`, else on `PATH`; a missing binary fails the test, never skips it.

// The crate root is tests/e2e.rs, so modules in tests/e2e/ need their path spelled out.
#[path = "e2e/crash.rs"]
mod crash;
#[path = "e2e/demo_sources.rs"]
mod demo_sources;
#[path = "e2e/kafka.rs"]
mod kafka;
#[path = "e2e/mosquitto.rs"]
mod mosquitto;
#[path = "e2e/mqtt.rs"]
mod mqtt;
#[path = "e2e/mqtt_actions.rs"]
mod mqtt_actions;
#[path = "e2e/outage.rs"]
mod outage;
#[path = "e2e/support.rs"]
mod support;
#[path = "e2e/tansu.rs"]
mod tansu;
