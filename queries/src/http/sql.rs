//! `POST /v1/sql`: run one read-only statement, answered in the format `Accept` asks for.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_engine::Epoch;

use super::format::Format;
use super::{ApiError, ApiState};
use crate::QueryRequest;

/// The request body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One SQL statement; `$1`, `$2`, … refer to `params`.
    pub sql: String,
    /// Positional parameters: JSON `null`, booleans, numbers or strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Value>,
    /// An ingest `ticket`: answer only once every projection includes it (read-your-writes),
    /// waiting at most `min_ticket_wait_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ticket: Option<Epoch>,
}

pub(super) async fn run_sql(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Json<SqlRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let format = Format::negotiate(&headers).ok_or_else(|| Format::not_acceptable(&headers))?;
    let Json(request) = body.map_err(|e| {
        ApiError::new(
            e.status(),
            format!(
                "invalid request body: {}; expected {{\"sql\": \"...\", \"params\": [...], \"min_ticket\": n}}",
                e.body_text()
            ),
        )
    })?;
    let query = QueryRequest {
        sql: request.sql,
        params: request.params,
        min_ticket: request.min_ticket,
    };
    let result = state.sql.run(&query, &state.config.query_limits()).await?;
    Ok(format.respond(&result))
}
