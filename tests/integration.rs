//! End-to-end tests of the facade: the IoT pipeline, the HTTP API over real sockets and the
//! `tributary` binary. One test binary (modules below) to save link time.

mod common;

mod anomaly;
mod delivery;
mod demo_cli;
mod history;
mod http_api;
mod http_auth;
mod http_ingest;
mod http_observe;
mod iot_pipeline;
mod recovery;
mod replay;
mod replay_cli;
mod sql_api;
mod sql_lookup;
mod subscribe;
