//! WebSocket: the same JSON messages as SSE, one text frame each, then a close frame.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;

use super::messages::SubscribeMessage;
use super::stream::MessageStream;

/// Accepts the upgrade and streams `messages` until the last one or until the client leaves.
pub(super) fn respond(upgrade: WebSocketUpgrade, messages: MessageStream) -> Response {
    upgrade.on_upgrade(move |socket| run(socket, messages))
}

async fn run(mut socket: WebSocket, mut messages: MessageStream) {
    loop {
        tokio::select! {
            next = messages.next() => {
                let Some(message) = next else { return };
                let json = match serde_json::to_string(&message) {
                    Ok(json) => json,
                    Err(e) => serde_json::json!({"type": "error", "reason": format!("cannot encode the message: {e}")}).to_string(),
                };
                if socket.send(Message::Text(json.into())).await.is_err() {
                    return;
                }
                if message.is_last() {
                    let _ = socket.send(Message::Close(Some(close_frame(&message)))).await;
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // The client's frames carry nothing we act on; pings are answered by axum.
                Some(Ok(Message::Text(_) | Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
        }
    }
}

/// `1000` when the pipeline ended, `1008` (policy) when the server dropped the subscriber;
/// the reason, cut to the 123 bytes a close frame allows.
fn close_frame(last: &SubscribeMessage) -> CloseFrame {
    let (code, reason) = match last {
        SubscribeMessage::Error { reason } => (close_code::POLICY, reason.as_str()),
        SubscribeMessage::Closed { reason } => (close_code::NORMAL, reason.as_str()),
        _ => (close_code::NORMAL, ""),
    };
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    }
}
