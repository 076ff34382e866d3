//! The change feed of a projection: what `GET /v1/subscribe/{projection}` streams.
//!
//! A subscriber gets a snapshot of the projection at the committed frontier and a bounded
//! queue ([`Subscription`]) that receives, for every later committed frontier that changed
//! the projection, that frontier's consolidated changes ([`ChangeBatch`]): each changed row
//! with `+1` (inserted) or `-1` (retracted) — a row that changes is `-old +new` — tagged with
//! the new `as_of`.
//!
//! **Atomicity.** The catalog applies updates only while it holds its frontier for writing,
//! and [`CatalogRead::subscribe`](super::CatalogRead::subscribe) takes the snapshot and
//! registers the queue while it holds the frontier for reading. So no frontier is applied
//! between the two: the snapshot is exactly the state at its `as_of`, and the first change
//! the queue receives is the next frontier's, with nothing lost and nothing counted twice.
//!
//! **Never blocking the dataflow.** Changes are published from the worker thread that
//! commits a frontier. Publishing only ever *tries* to enqueue: a subscriber whose queue is
//! full is dropped there and then with the reason
//! [`SubscriptionClosed::SlowConsumer`] (`slow consumer: N changes behind`). What it had
//! queued is still delivered before the reason, so the client knows exactly where its view
//! stops. Memory per subscriber is thus bounded by its queue capacity (in change batches).
//!
//! **Cost.** With no subscriber a table pays one uncontended mutex lock per committed
//! frontier. With subscribers, each committed frontier that changes the table costs one
//! consolidation of its updates per key (quadratic in the updates of *one* key within one
//! frontier, which are few), one Arrow conversion of the changed rows, shared by every
//! subscriber through an [`Arc`], and one non-blocking enqueue per subscriber — all on the
//! committing worker, under the catalog's write lock, so it delays the next frontier by about
//! the cost of converting the changed rows once. A snapshot costs what a SQL snapshot does.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arrow::datatypes::FieldRef;
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use thiserror::Error;
use tokio::sync::mpsc;

use crate::time::Epoch;

/// The consolidated changes of one projection at one committed frontier.
#[derive(Debug, Clone)]
pub struct ChangeBatch {
    /// The frontier these changes were committed at: the state after them is the state a
    /// query with this `as_of` sees.
    pub as_of: Epoch,
    /// The changed rows, in the projection's schema, retractions of a key before its
    /// insertions.
    pub rows: RecordBatch,
    /// Per row of `rows`, its change of multiplicity: negative retracted, positive inserted.
    pub diffs: Vec<i64>,
}

/// Why a subscription ended. Queued changes are delivered before it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubscriptionClosed {
    /// The subscriber did not keep up: its queue was full when a frontier was committed.
    #[error("slow consumer: {behind} changes behind")]
    SlowConsumer {
        /// Change batches published and not taken: the full queue plus the one refused.
        behind: usize,
    },
    /// Every input has ended and the final frontier is applied: nothing will change.
    #[error("the pipeline has ended: no more changes")]
    Ended,
    /// The changed rows could not be converted to the projection's Arrow schema.
    #[error("cannot encode the changes: {0}")]
    Encoding(String),
}

/// The receiving end of a subscription: change batches after the snapshot, in frontier order.
#[derive(Debug)]
pub struct Subscription {
    receiver: mpsc::Receiver<Arc<ChangeBatch>>,
    closed: Arc<OnceLock<SubscriptionClosed>>,
    feed: Arc<Mutex<FeedState>>,
}

impl Subscription {
    /// The next change batch, or why there will be none (after the queued ones are taken).
    /// Cancel-safe: a batch is never lost when the future is dropped unfinished.
    pub async fn next(&mut self) -> Result<Arc<ChangeBatch>, SubscriptionClosed> {
        match self.receiver.recv().await {
            Some(batch) => Ok(batch),
            // The sender is only dropped after the reason is set; `Ended` if that ever fails.
            None => Err(self.closed.get().cloned().unwrap_or(SubscriptionClosed::Ended)),
        }
    }

    /// `Some(as_of)` when every change up to the committed frontier `as_of` has been taken
    /// from the queue (so the subscriber's state is the projection as of `as_of`); `None`
    /// while changes are queued or once the subscription is closed.
    pub fn progress(&self) -> Option<Epoch> {
        // Publishing enqueues and advances `as_of` under this lock, so an empty queue seen
        // under it means nothing up to `as_of` is still in flight.
        let state = self.feed.lock().unwrap_or_else(PoisonError::into_inner);
        (self.receiver.is_empty() && self.closed.get().is_none()).then_some(state.as_of)
    }
}

/// The subscribers of one projection table and the frontier last committed to it.
#[derive(Debug, Default)]
pub(crate) struct ChangeFeed {
    state: Arc<Mutex<FeedState>>,
}

#[derive(Debug, Default)]
struct FeedState {
    as_of: Epoch,
    subscribers: Vec<Subscriber>,
}

#[derive(Debug)]
struct Subscriber {
    sender: mpsc::Sender<Arc<ChangeBatch>>,
    closed: Arc<OnceLock<SubscriptionClosed>>,
    capacity: usize,
}

impl Subscriber {
    /// Tries to enqueue `batch`; `false` when the subscriber is gone or now dropped.
    fn offer(&self, batch: &Arc<ChangeBatch>) -> bool {
        match self.sender.try_send(Arc::clone(batch)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(SubscriptionClosed::SlowConsumer {
                    behind: self.capacity + 1,
                });
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn close(&self, reason: SubscriptionClosed) {
        // Only the first reason counts; a subscriber is closed once.
        let _ = self.closed.set(reason);
    }
}

impl ChangeFeed {
    /// Whether anyone is subscribed, i.e. whether the next commit must compute its changes.
    pub(crate) fn is_watched(&self) -> bool {
        !self.lock().subscribers.is_empty()
    }

    /// Records that the table was committed at `as_of` and publishes `changes` (`None`: the
    /// frontier did not change the table, or nobody watched). Never blocks on a subscriber.
    pub(crate) fn commit(&self, as_of: Epoch, changes: Option<Result<ChangeBatch, String>>) {
        let mut state = self.lock();
        match changes {
            Some(Ok(batch)) => {
                let batch = Arc::new(batch);
                state.subscribers.retain(|s| s.offer(&batch));
            }
            Some(Err(reason)) => {
                for s in state.subscribers.drain(..) {
                    s.close(SubscriptionClosed::Encoding(reason.clone()));
                }
            }
            None => {}
        }
        state.as_of = as_of;
        if as_of == Epoch::MAX {
            for s in state.subscribers.drain(..) {
                s.close(SubscriptionClosed::Ended);
            }
        }
    }

    /// A new subscriber with a queue of `capacity` change batches (at least 1). The caller
    /// holds the catalog's frontier for reading, so no commit runs concurrently.
    pub(crate) fn subscribe(&self, capacity: usize) -> Subscription {
        let capacity = capacity.max(1);
        let (sender, receiver) = mpsc::channel(capacity);
        let closed = Arc::new(OnceLock::new());
        let subscriber = Subscriber {
            sender,
            closed: Arc::clone(&closed),
            capacity,
        };
        let mut state = self.lock();
        if state.as_of == Epoch::MAX {
            subscriber.close(SubscriptionClosed::Ended);
        } else {
            state.subscribers.push(subscriber);
        }
        drop(state);
        Subscription {
            receiver,
            closed,
            feed: Arc::clone(&self.state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Adds one key's updates of one commit to `changes`, consolidated: equal rows are summed,
/// rows whose changes cancel are left out, and retractions come before insertions so a
/// client keeping one row per key can apply them in order.
pub(crate) fn consolidate_into<P: PartialEq + Clone>(group: &[(P, i64)], changes: &mut Vec<(P, i64)>) {
    let start = changes.len();
    for (row, diff) in group {
        match changes[start..].iter_mut().find(|(p, _)| p == row) {
            Some((_, n)) => *n += diff,
            None => changes.push((row.clone(), *diff)),
        }
    }
    let mut key_changes: Vec<(P, i64)> = changes.drain(start..).filter(|(_, n)| *n != 0).collect();
    key_changes.sort_by_key(|(_, n)| *n);
    changes.extend(key_changes);
}

/// Converts consolidated changes to a [`ChangeBatch`] (`None` when there are none).
pub(crate) fn encode_changes<P: Serialize>(
    fields: &[FieldRef],
    as_of: Epoch,
    changes: Vec<(P, i64)>,
) -> Option<Result<ChangeBatch, String>> {
    if changes.is_empty() {
        return None;
    }
    let (rows, diffs): (Vec<P>, Vec<i64>) = changes.into_iter().unzip();
    Some(
        serde_arrow::to_record_batch(fields, &rows)
            .map(|rows| ChangeBatch { as_of, rows, diffs })
            .map_err(|e| e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consolidation_sums_equal_rows_drops_cancelled_ones_and_puts_retractions_first() {
        let mut changes = vec![("earlier key", 1)];
        consolidate_into(
            &[("new", 1), ("old", -1), ("flicker", 1), ("flicker", -1), ("new", 1)],
            &mut changes,
        );
        assert_eq!(changes, [("earlier key", 1), ("old", -1), ("new", 2)]);
    }

    fn batch(as_of: Epoch) -> Option<Result<ChangeBatch, String>> {
        Some(Ok(ChangeBatch {
            as_of,
            rows: RecordBatch::new_empty(Arc::new(arrow::datatypes::Schema::empty())),
            diffs: Vec::new(),
        }))
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_subscriber_after_delivering_what_it_queued() {
        let feed = ChangeFeed::default();
        let mut slow = feed.subscribe(2);
        let mut keeping_up = feed.subscribe(2);
        for as_of in 1..=3 {
            feed.commit(as_of, batch(as_of));
            if let Ok(b) = keeping_up.next().await {
                assert_eq!(b.as_of, as_of);
            }
        }
        assert!(feed.is_watched(), "the subscriber that keeps up stays");
        assert_eq!(slow.next().await.map(|b| b.as_of), Ok(1));
        assert_eq!(slow.next().await.map(|b| b.as_of), Ok(2));
        let reason = slow.next().await.err();
        assert_eq!(reason, Some(SubscriptionClosed::SlowConsumer { behind: 3 }));
        assert_eq!(
            reason.map(|r| r.to_string()).as_deref(),
            Some("slow consumer: 3 changes behind")
        );
        assert_eq!(keeping_up.progress(), Some(3));
        drop(keeping_up);
        feed.commit(4, batch(4));
        assert!(
            !feed.is_watched(),
            "a dropped subscription is forgotten at the next change"
        );
    }

    #[tokio::test]
    async fn progress_waits_for_the_queue_and_the_final_frontier_ends_every_subscription() {
        let feed = ChangeFeed::default();
        let mut sub = feed.subscribe(4);
        assert_eq!(sub.progress(), Some(0));
        feed.commit(5, batch(5));
        assert_eq!(sub.progress(), None, "a change is queued");
        assert_eq!(sub.next().await.map(|b| b.as_of), Ok(5));
        feed.commit(6, None);
        assert_eq!(sub.progress(), Some(6), "a commit without changes still advances it");
        feed.commit(Epoch::MAX, None);
        assert_eq!(sub.next().await.err(), Some(SubscriptionClosed::Ended));
        assert_eq!(sub.progress(), None);
        let mut late = feed.subscribe(4);
        assert_eq!(late.next().await.err(), Some(SubscriptionClosed::Ended));
    }

    #[tokio::test]
    async fn an_encoding_failure_closes_every_subscription_with_the_reason() {
        let feed = ChangeFeed::default();
        let mut sub = feed.subscribe(4);
        feed.commit(1, Some(Err("bad row".into())));
        assert_eq!(
            sub.next().await.err().map(|r| r.to_string()).as_deref(),
            Some("cannot encode the changes: bad row")
        );
    }
}
