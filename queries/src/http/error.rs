//! API errors: JSON `{"error": "..."}` with the status that fits, and the headers a client
//! needs to react (`Retry-After` on busy, `Allow` on a wrong method).

use axum::Json;
use axum::http::header::{ALLOW, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::QueryError;

/// `Retry-After` of a query whose `min_ticket` was not reached in time.
const TICKET_RETRY_AFTER_SECONDS: u32 = 1;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    headers: HeaderMap,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            headers: HeaderMap::new(),
        }
    }

    /// The same error answered with one more header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// `503` asking the client to retry after `seconds`.
    pub fn retry_after(message: impl Into<String>, seconds: u32) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message).with_header(RETRY_AFTER, HeaderValue::from(seconds))
    }

    /// The status it will be answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message it will be answered with.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The extra headers it will be answered with.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let status = match &e {
            QueryError::InvalidSql(_) | QueryError::InvalidParams(_) | QueryError::Execution(_) => {
                StatusCode::BAD_REQUEST
            }
            QueryError::Forbidden(_) => StatusCode::FORBIDDEN,
            QueryError::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            QueryError::MemoryLimit { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            QueryError::TicketNotReached { .. } => {
                return Self::retry_after(e.to_string(), TICKET_RETRY_AFTER_SECONDS);
            }
            QueryError::Snapshot(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, error = %self.message, "request failed");
        }
        (self.status, self.headers, Json(json!({ "error": self.message }))).into_response()
    }
}

pub(super) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint; try POST /v1/sql, POST /v1/ingest/{stream}, GET /v1/subscribe/{projection}, GET /healthz, GET /readyz or GET /metrics",
    )
}

/// The answer to a known path asked with a method it does not serve: `405` in JSON, with
/// the `Allow` header axum's own (empty-bodied) answer would carry.
pub(super) fn method_not_allowed(allow: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed here; use {allow}"),
    )
    .with_header(ALLOW, HeaderValue::from_static(allow))
}
