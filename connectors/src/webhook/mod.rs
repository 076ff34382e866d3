//! The webhook action sink: actions POSTed as JSON to an HTTP endpoint, off the dataflow.
//!
//! [`WebhookSink::try_new`] starts a delivery thread with its own single-threaded tokio
//! runtime. [`submit`](tributary_engine::delivery::ActionSink::submit) reserves a slot in a
//! bounded queue and returns; when the queue is full the action is dead-lettered at once
//! ("delivery queue full"), so a slow or dead endpoint costs the dataflow nothing. The thread
//! takes actions from the queue, up to `max_in_flight` at a time, and for each one:
//!
//! * POSTs the payload with an `Idempotency-Key: <action id>` header (the same on every
//!   retry of one action), with the configured timeout (default 30 s);
//! * 2xx is delivered; 429, 5xx, a timeout or a connection error is retried after the next
//!   wait of the schedule (default 1, 2, 4, 8, 16 s, ±20 % jitter; a 429's `Retry-After`
//!   stretches the wait); any other status is dead-lettered at once, with the reason;
//! * consults the endpoint's [circuit breaker](BreakerConfig): while it is open an attempt
//!   fails fast without a call, counts as an attempt and follows the schedule like a failed
//!   call, so the action is retried later or dead-lettered after its last attempt;
//! * after the last attempt, dead-letters the action (kind `delivery`, position
//!   `action:<id>`) with the last error.
//!
//! Every outcome (attempts, last HTTP status, latency, error) goes to the
//! [`DeliveryLog`](tributary_engine::delivery::DeliveryLog), which `system.actions` reads.
//! One sink serves one endpoint, so its breaker is that endpoint's.

mod breaker;
mod config;
mod retry;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{BreakerConfig, WebhookConfig};
pub use sink::WebhookSink;

use thiserror::Error;

/// Why a webhook sink could not start.
#[derive(Debug, Error)]
pub enum WebhookError {
    /// The configuration is invalid.
    #[error("invalid webhook configuration: {0}")]
    Config(String),
    /// The configured root certificate could not be read or parsed.
    #[error("root certificate {path}: {reason}")]
    RootCertificate {
        /// The PEM file.
        path: std::path::PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The delivery thread or its runtime could not start.
    #[error("cannot start the webhook delivery thread: {0}")]
    Thread(#[from] std::io::Error),
}
