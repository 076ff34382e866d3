//! The hand-off from HTTP handlers to the workers: decoded batches wait here until a worker
//! emits them into the dataflow and answers with the epoch they were given.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::time::Epoch;

/// Records of one request, and where to send the epoch they entered the dataflow in.
pub(crate) struct IngestBatch<T> {
    pub(crate) records: Vec<T>,
    pub(crate) entered: oneshot::Sender<Epoch>,
}

/// Why a batch could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueRefusal {
    /// Every input of the stream has closed (bounded source finished, or shutdown).
    Closed,
    /// The queue holds its maximum number of batches: the workers are behind.
    Full,
}

/// Batches shared by every worker's input of one stream.
pub(crate) struct IngestQueue<T> {
    state: Mutex<QueueState<T>>,
    max_batches: usize,
}

struct QueueState<T> {
    batches: VecDeque<IngestBatch<T>>,
    /// Worker inputs still open; the queue closes when the last one does.
    open_inputs: usize,
    ever_opened: bool,
}

impl<T> IngestQueue<T> {
    pub(crate) fn new(max_batches: usize) -> Self {
        Self {
            state: Mutex::new(QueueState {
                batches: VecDeque::new(),
                open_inputs: 0,
                ever_opened: false,
            }),
            max_batches,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A worker input now serves this queue.
    pub(crate) fn attach_input(&self) {
        let mut state = self.lock();
        state.open_inputs += 1;
        state.ever_opened = true;
    }

    /// A worker input closed; the last one to close drops what is still queued (their
    /// senders are dropped, so their requests answer that the stream closed).
    pub(crate) fn detach_input(&self) {
        let mut state = self.lock();
        state.open_inputs = state.open_inputs.saturating_sub(1);
        if state.open_inputs == 0 {
            state.batches.clear();
        }
    }

    pub(crate) fn push(&self, batch: IngestBatch<T>) -> Result<(), QueueRefusal> {
        let mut state = self.lock();
        if state.ever_opened && state.open_inputs == 0 {
            return Err(QueueRefusal::Closed);
        }
        if state.batches.len() >= self.max_batches {
            return Err(QueueRefusal::Full);
        }
        state.batches.push_back(batch);
        Ok(())
    }

    /// Takes batches holding up to about `budget` records (at least one batch if any).
    pub(crate) fn take(&self, budget: usize, out: &mut Vec<IngestBatch<T>>) {
        let mut state = self.lock();
        let mut taken = 0;
        while taken < budget.max(1) {
            let Some(batch) = state.batches.pop_front() else { break };
            taken += batch.records.len();
            out.push(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> (IngestBatch<usize>, oneshot::Receiver<Epoch>) {
        let (tx, rx) = oneshot::channel();
        (
            IngestBatch {
                records: (0..n).collect(),
                entered: tx,
            },
            rx,
        )
    }

    #[test]
    fn bounded_closed_after_the_last_input_and_drops_what_is_left() {
        let q = IngestQueue::new(2);
        q.attach_input();
        q.attach_input();
        let (b1, _r1) = batch(3);
        let (b2, _r2) = batch(3);
        let (b3, _r3) = batch(3);
        assert!(q.push(b1).is_ok());
        assert!(q.push(b2).is_ok());
        assert_eq!(q.push(b3).err(), Some(QueueRefusal::Full));
        let mut out = Vec::new();
        q.take(1, &mut out);
        assert_eq!(out.len(), 1, "one batch satisfies a budget of one record");
        q.detach_input();
        let (b4, mut r4) = batch(1);
        assert!(q.push(b4).is_ok(), "another input still serves the queue");
        q.detach_input();
        assert!(
            r4.try_recv().is_err(),
            "dropped on close: its request learns the stream closed"
        );
        let (b5, _r5) = batch(1);
        assert_eq!(q.push(b5).err(), Some(QueueRefusal::Closed));
    }
}
