//! `POST /v1/ingest/{stream}`: a JSON object, a JSON array or NDJSON into one stream.
//!
//! The engine splits and decodes the body ([`tributary_engine::ingest`]); this handler maps
//! its outcome to HTTP. Good records are accepted even when others in the same body are
//! rejected, so a partly bad body is still `200`, with one `errors` entry per rejected line.
//! Failures of the request as a whole use the status a client can act on: `404` for an
//! unknown stream (listing the streams), `413` for a body over the limit, `503` when the
//! stream is closed or the workers are behind (with `Retry-After` when retrying helps).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tributary_engine::ingest::{IngestError, IngestReport};

use super::{ApiError, ApiState};

/// Seconds a client is asked to wait before retrying a busy stream.
const BUSY_RETRY_AFTER_SECONDS: u32 = 1;

pub(super) async fn ingest(
    State(state): State<ApiState>,
    stream: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestReport>, ApiError> {
    let Path(stream) = stream.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let body = body.map_err(|e| body_error(&e, state.config.max_ingest_body_bytes))?;
    let endpoint = state
        .ingest
        .endpoint(&stream)
        .map_err(|e| ingest_error(e, &state.ingest.streams()))?;
    // Decoding a body of up to the limit is CPU work: keep it off the async workers.
    let pending = tokio::task::spawn_blocking(move || endpoint.ingest(&body))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("ingest task failed: {e}")))?
        .map_err(|e| ingest_error(e, &state.ingest.streams()))?;
    let report = pending
        .wait(state.config.ingest_timeout())
        .await
        .map_err(|e| ingest_error(e, &state.ingest.streams()))?;
    Ok(Json(report))
}

/// A body that could not be read: over the limit (`413`, in our JSON rather than axum's
/// plain text) or broken off by the client.
fn body_error(e: &BytesRejection, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the ingest limit of {limit} bytes; split it into several requests"),
        );
    }
    ApiError::new(e.status(), format!("cannot read the request body: {}", e.body_text()))
}

/// The HTTP answer to an ingest that failed as a whole.
fn ingest_error(e: IngestError, streams: &[String]) -> ApiError {
    match e {
        IngestError::UnknownStream(_) => {
            let known = if streams.is_empty() {
                "none".to_string()
            } else {
                streams.join(", ")
            };
            ApiError::new(StatusCode::NOT_FOUND, format!("{e}; streams open to ingest: {known}"))
        }
        IngestError::Closed(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        IngestError::Busy(_) => ApiError::retry_after(e.to_string(), BUSY_RETRY_AFTER_SECONDS),
        IngestError::Timeout { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{e}; they may still be applied: check system.streams before resending"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::header::RETRY_AFTER;

    use super::*;

    #[test]
    fn unknown_stream_is_404_listing_the_streams() {
        let e = ingest_error(
            IngestError::UnknownStream("nope".into()),
            &["orders".to_string(), "readings".to_string()],
        );
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            e.message(),
            "no stream `nope`; streams open to ingest: orders, readings"
        );
        let none = ingest_error(IngestError::UnknownStream("nope".into()), &[]);
        assert!(
            none.message().ends_with("streams open to ingest: none"),
            "{}",
            none.message()
        );
    }

    #[test]
    fn busy_asks_to_retry_after_a_second_closed_and_timeout_do_not() {
        let busy = ingest_error(IngestError::Busy("readings".into()), &[]);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers().get(RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"1"[..]));

        let closed = ingest_error(IngestError::Closed("readings".into()), &[]);
        assert_eq!(closed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(closed.headers().get(RETRY_AFTER).is_none());
        assert!(closed.message().contains("closed"), "{}", closed.message());

        let timeout = ingest_error(
            IngestError::Timeout {
                stream: "readings".into(),
                waited: Duration::from_millis(250),
            },
            &[],
        );
        assert_eq!(timeout.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(timeout.message().contains("250ms"), "{}", timeout.message());
        assert!(
            timeout.message().contains("may still be applied"),
            "{}",
            timeout.message()
        );
    }
}
