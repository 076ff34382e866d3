//! Server-sent events: `text/event-stream`, one event per message, named by its `type`.

use std::convert::Infallible;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};

use super::messages::SubscribeMessage;
use super::stream::MessageStream;

/// The SSE response streaming `messages`; it ends after the `closed` or `error` event.
pub(super) fn respond(messages: MessageStream) -> Response {
    let events = futures_util::stream::unfold(messages, |mut messages| async move {
        let message = messages.next().await?;
        Some((Ok::<_, Infallible>(event(&message)), messages))
    });
    Sse::new(events).into_response()
}

fn event(message: &SubscribeMessage) -> Event {
    let event = Event::default().event(message.kind());
    match serde_json::to_string(message) {
        Ok(json) => event.data(json),
        // The messages are plain data (strings, numbers, arrays) that always serialize; say
        // so on the wire rather than drop the event if that ever changes.
        Err(e) => Event::default().event("error").data(
            serde_json::json!({"type": "error", "reason": format!("cannot encode the message: {e}")}).to_string(),
        ),
    }
}
