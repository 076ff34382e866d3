//! `POST /v1/sql`: run one read-only statement.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::json::{JsonResult, encode_result};
use super::{ApiError, ApiState};

/// The request body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One SQL statement.
    pub sql: String,
}

pub(super) async fn run_sql(
    State(state): State<ApiState>,
    body: Result<Json<SqlRequest>, JsonRejection>,
) -> Result<Json<JsonResult>, ApiError> {
    let Json(request) = body.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("invalid request body: {}; expected {{\"sql\": \"...\"}}", e.body_text()),
        )
    })?;
    let result = state.sql.execute(&request.sql).await?;
    let encoded = encode_result(&result).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(Json(encoded))
}
