//! End-to-end tests of the facade: the IoT pipeline, the HTTP API over real sockets and the
//! `tributary` binary. One test binary (modules below) to save link time.

mod common;

mod anomaly;
mod demo_cli;
mod history;
mod http_api;
mod http_ingest;
mod iot_pipeline;
mod replay;
