//! `GET /metrics`: every metric in the Prometheus text format (see [`crate::metrics`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};

pub(super) async fn metrics(State(state): State<ApiState>) -> Response {
    match state.metrics.render() {
        Ok(text) => ([(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot render metrics: {e}")).into_response()
        }
    }
}
