//! `GET /healthz`: the process is up and serving.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;

pub(super) async fn healthz(State(state): State<ApiState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "as_of": state.sql.catalog().as_of(),
        "projections": state.sql.catalog().table_names(),
    }))
}
