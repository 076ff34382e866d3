//! The sequence of messages one subscriber receives, whatever the transport.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tributary_engine::Subscription;

use super::messages::SubscribeMessage;

/// Snapshot first, then changes and heartbeats as they come, then one `closed` or `error`.
#[derive(Debug)]
pub(super) struct MessageStream {
    snapshot: Option<SubscribeMessage>,
    changes: Subscription,
    heartbeat: Interval,
    stopping: watch::Receiver<bool>,
    finished: bool,
}

impl MessageStream {
    pub(super) fn new(
        snapshot: SubscribeMessage,
        changes: Subscription,
        heartbeat: Duration,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        let mut heartbeat = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            snapshot: Some(snapshot),
            changes,
            heartbeat,
            stopping,
            finished: false,
        }
    }

    /// The next message; `None` after the last one. Cancel-safe.
    pub(super) async fn next(&mut self) -> Option<SubscribeMessage> {
        if self.finished {
            return None;
        }
        if let Some(snapshot) = self.snapshot.take() {
            return Some(snapshot);
        }
        let message = tokio::select! {
            // Changes first: a heartbeat must not claim progress past queued changes (it
            // cannot: `progress` is `None` while any is queued), nor delay them.
            biased;
            next = self.changes.next() => match next {
                Ok(batch) => SubscribeMessage::change(&batch).unwrap_or_else(|reason| SubscribeMessage::Error {
                    reason: format!("cannot encode the changes: {reason}"),
                }),
                Err(reason) => SubscribeMessage::end(&reason),
            },
            _ = self.stopping.wait_for(|stopping| *stopping) => SubscribeMessage::Closed {
                reason: "the server is shutting down".to_string(),
            },
            _ = self.heartbeat.tick() => SubscribeMessage::Heartbeat {
                as_of: self.changes.progress(),
            },
        };
        self.finished = message.is_last();
        if !matches!(message, SubscribeMessage::Heartbeat { .. }) {
            self.heartbeat.reset();
        }
        Some(message)
    }
}
