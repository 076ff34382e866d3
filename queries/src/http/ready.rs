//! `GET /readyz`: whether the pipeline should receive traffic — every worker built, no
//! recovery running, no source disconnected. `200` when ready, `503` (with the reasons)
//! when not; `/healthz` stays `200` either way (the process is alive).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::ApiState;

pub(super) async fn readyz(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    let readiness = state.health.readiness();
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let sources: Vec<Value> = state
        .health
        .sources()
        .snapshot()
        .into_iter()
        .map(|s| {
            json!({
                "stream": s.stream,
                "source": s.source,
                "connected": connected(s.connectivity),
            })
        })
        .collect();
    (
        status,
        Json(json!({
            "ready": readiness.is_ready(),
            "workers_built": readiness.workers_built,
            "recovering": readiness.recovering,
            "disconnected": readiness.disconnected,
            "sources": sources,
        })),
    )
}

/// `true`/`false`, or `null` for a source without a connection.
fn connected(c: tributary_engine::source::Connectivity) -> Option<bool> {
    use tributary_engine::source::Connectivity;
    match c {
        Connectivity::Unknown => None,
        Connectivity::Connected => Some(true),
        Connectivity::Disconnected => Some(false),
    }
}
