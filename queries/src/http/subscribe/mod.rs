//! `GET /v1/subscribe/{projection}`: a projection's snapshot, then every change, over
//! WebSocket when the request is an upgrade and server-sent events otherwise.
//!
//! ```text
//!  snapshot {projection, as_of, columns, rows}       the rows at as_of, as POST /v1/sql encodes them
//!  change   {as_of, changes: [{diff, row}]}          one per committed frontier that changed it
//!  heartbeat {as_of | null}                          every heartbeat interval without other messages
//!  closed   {reason}  |  error {reason}              last: pipeline ended | slow consumer, ...
//! ```
//!
//! The engine ([`tributary_engine::live::changes`]) takes the snapshot and registers the
//! subscriber atomically with respect to applying frontiers, so applying every `change` in
//! order to the snapshot gives the projection as of the last `as_of` — what a SQL query at
//! that `as_of` answers. A subscriber that does not keep up is disconnected with
//! `error {"reason": "slow consumer: N changes behind"}` once its queue
//! ([`SubscribeConfig::queue_capacity`]) is full; the dataflow never waits for it.
//! An unknown projection is `404` in JSON, before any stream starts.

mod config;
mod messages;
mod shutdown;
mod sse;
mod stream;
mod ws;

use axum::extract::rejection::PathRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, State};
use axum::http::header::UPGRADE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
pub use config::SubscribeConfig;
pub use messages::{RowChange, SubscribeMessage};
pub use shutdown::SubscriptionShutdown;
use stream::MessageStream;
use tributary_engine::{LiveCatalog, Subscription};

use super::json::{encode_columns, encode_rows};
use super::{ApiError, ApiState};

pub(super) async fn subscribe(
    State(state): State<ApiState>,
    projection: Result<Path<String>, PathRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(projection) = projection.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    // A request that asks for a WebSocket but is not a valid upgrade gets axum's reason,
    // not an event stream it did not ask for.
    let upgrade = match upgrade {
        Ok(upgrade) => Some(upgrade),
        Err(e) if headers.contains_key(UPGRADE) => return Err(ApiError::new(e.status(), e.body_text())),
        Err(_) => None,
    };
    let catalog = state.sql.catalog().clone();
    let capacity = state.config.subscribe.queue_capacity;
    // The snapshot and its encoding are O(rows): keep them off the async workers.
    let name = projection.clone();
    let started = tokio::task::spawn_blocking(move || start(&catalog, &name, capacity))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("subscribe task failed: {e}")))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let Some((snapshot, changes)) = started else {
        let known = state.sql.catalog().table_names();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no projection `{projection}`; projections: {known}"),
        ));
    };
    let messages = MessageStream::new(
        snapshot,
        changes,
        state.config.subscribe.heartbeat_interval(),
        state.subscriptions.watch(),
    );
    Ok(match upgrade {
        Some(upgrade) => ws::respond(upgrade, messages),
        None => sse::respond(messages),
    })
}

/// Subscribes to `projection` (`None`: no such projection) and encodes its `snapshot`
/// message; the error is the reason for a `500`.
fn start(
    catalog: &LiveCatalog,
    projection: &str,
    capacity: usize,
) -> Result<Option<(SubscribeMessage, Subscription)>, String> {
    let Some(subscribed) = catalog
        .read()
        .subscribe(projection, capacity)
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let snapshot = SubscribeMessage::Snapshot {
        projection: projection.to_string(),
        as_of: subscribed.as_of,
        columns: encode_columns(subscribed.snapshot.schema_ref()),
        rows: encode_rows(&subscribed.snapshot)?,
    };
    Ok(Some((snapshot, subscribed.changes)))
}
