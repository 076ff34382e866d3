//! End-to-end tests of the facade: the IoT pipeline, the HTTP API over real sockets and the
//! `tributary` binary. One test binary (modules below) to save link time.

mod common;

mod activity_feed;
mod anomaly;
mod delivery;
mod delivery_history;
mod demo_cli;
mod docker_compose;
mod history;
mod http_api;
mod http_auth;
mod http_ingest;
mod http_observe;
mod iot_pipeline;
mod notifications;
mod order_analytics;
mod recovery;
mod replay;
mod replay_cli;
mod sql_api;
mod sql_fast_path;
mod sql_lookup;
mod subscribe;
