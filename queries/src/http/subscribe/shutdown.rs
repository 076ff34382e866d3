//! Ending open subscriptions when the server stops.
//!
//! A subscription lasts as long as the pipeline, and axum's graceful shutdown waits for every
//! open response; without this signal a server with a subscriber could never stop before its
//! pipeline, which is the order the CLI stops them in.

use std::sync::Arc;

use tokio::sync::watch;

/// Tells every open subscription of one server that the server is stopping; each then ends
/// with `closed {"reason": "the server is shutting down"}`.
#[derive(Debug, Clone)]
pub struct SubscriptionShutdown(Arc<watch::Sender<bool>>);

impl Default for SubscriptionShutdown {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl SubscriptionShutdown {
    /// Ends every open subscription, and any opened from now on.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    /// What a subscription waits on.
    pub(super) fn watch(&self) -> watch::Receiver<bool> {
        self.0.subscribe()
    }
}
