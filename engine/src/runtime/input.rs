//! Drives one source reader, and the stream's HTTP ingest queue, into one timely input —
//! after replaying what recovery found in history for it.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;

use super::history_tap::HistoryTap;
use crate::EngineError;
use crate::ingest::{IngestBatch, IngestQueue};
use crate::source::{DeadLetterQueue, SourceLink, SourceOutput, SourceReader, SourceStatus, StreamCounters};
use crate::time::Epoch;

/// A source reader bound to its dataflow input, type-erased for the worker loop.
pub(crate) trait DrivenInput {
    /// Polls the reader and the ingest queue and sends what they emitted; returns the
    /// reader's status and how many records were sent. While the input is
    /// [recovering](Self::recovering) it sends replayed records instead: `Ready` while the
    /// current epoch has more, `EpochDone` once it has none.
    fn poll(&mut self, budget: usize) -> (SourceStatus, usize);
    /// Whether records replayed from history are still to be sent (then neither the
    /// reader nor the ingest queue is polled).
    fn recovering(&self) -> bool;
    /// Moves the input to a later epoch.
    fn advance_to(&mut self, epoch: Epoch);
    /// Tells the reader which epochs have reached every projection (with history on: and
    /// are durable in history). May be called with the same frontier again.
    fn processed(&mut self, frontier: Epoch);
    /// Closes the input (the reader stays, to hear about the final frontier) and commits
    /// its history; reports a history write error.
    fn close(&mut self) -> Result<(), EngineError>;
}

type Handle<T> = InputHandle<Epoch, CapacityContainerBuilder<Vec<(T, Epoch, isize)>>>;

/// What an input counts and reports into for its stream: counters, dead letters and the
/// source's health link.
pub(crate) struct StreamBookkeeping {
    pub(crate) counters: Arc<StreamCounters>,
    pub(crate) dead_letters: Arc<DeadLetterQueue>,
    pub(crate) link: Arc<SourceLink>,
}

pub(crate) struct InputDriver<T: Clone + 'static> {
    stream: String,
    handle: Option<Handle<T>>,
    reader: Box<dyn SourceReader<T>>,
    ingest: Option<Arc<IngestQueue<T>>>,
    counters: Arc<StreamCounters>,
    dead_letters: Arc<DeadLetterQueue>,
    link: Arc<SourceLink>,
    buffer: Vec<(T, Epoch, isize)>,
    batches: Vec<IngestBatch<T>>,
    history: Option<HistoryTap<T>>,
    /// Records recovery replays from history, with their original epochs, in order.
    replay: VecDeque<(Epoch, T)>,
    /// The last frontier the reader heard.
    reported: Epoch,
}

impl<T: Clone + Serialize + Send + 'static> InputDriver<T> {
    pub(crate) fn new(
        stream: &str,
        handle: Handle<T>,
        reader: Box<dyn SourceReader<T>>,
        ingest: Option<Arc<IngestQueue<T>>>,
        bookkeeping: StreamBookkeeping,
        history: Option<HistoryTap<T>>,
        replay: Vec<(Epoch, T)>,
    ) -> Self {
        let StreamBookkeeping {
            counters,
            dead_letters,
            link,
        } = bookkeeping;
        if let Some(queue) = &ingest {
            queue.attach_input();
        }
        Self {
            stream: stream.to_string(),
            handle: Some(handle),
            reader,
            ingest,
            counters,
            dead_letters,
            link,
            buffer: Vec::new(),
            batches: Vec::new(),
            history,
            replay: replay.into(),
            reported: 0,
        }
    }

    /// Sends the replayed records of epochs up to the current one: they are in history
    /// already and were counted when they first arrived.
    fn poll_replay(&mut self, budget: usize) -> (SourceStatus, usize) {
        let Some(handle) = self.handle.as_mut() else {
            return (SourceStatus::Finished, 0);
        };
        let epoch = *handle.time();
        while self.buffer.len() < budget && self.replay.front().is_some_and(|(e, _)| *e <= epoch) {
            if let Some((_, record)) = self.replay.pop_front() {
                self.buffer.push((record, epoch, 1));
            }
        }
        let n = self.buffer.len();
        handle.send_batch(&mut self.buffer);
        self.buffer.clear();
        let status = match self.replay.front() {
            Some((e, _)) if *e <= epoch => SourceStatus::Ready,
            _ => SourceStatus::EpochDone,
        };
        (status, n)
    }
}

impl<T: Clone + Serialize + Send + 'static> DrivenInput for InputDriver<T> {
    fn poll(&mut self, budget: usize) -> (SourceStatus, usize) {
        if !self.replay.is_empty() {
            return self.poll_replay(budget);
        }
        let Some(handle) = self.handle.as_mut() else {
            return (SourceStatus::Finished, 0);
        };
        let epoch = *handle.time();
        let mut out = SourceOutput {
            stream: &self.stream,
            buffer: &mut self.buffer,
            epoch,
            counters: &self.counters,
            dead_letters: &self.dead_letters,
            link: &self.link,
        };
        let status = self.reader.poll(&mut out, budget);
        if let Some(queue) = &self.ingest {
            queue.take(budget, &mut self.batches);
            for batch in self.batches.drain(..) {
                for record in batch.records {
                    out.give(record);
                }
                // The request may have timed out and gone; its records are in all the same.
                let _ = batch.entered.send(epoch);
            }
        }
        let n = self.buffer.len();
        if let Some(history) = self.history.as_mut() {
            history.keep(&self.buffer);
        }
        handle.send_batch(&mut self.buffer);
        self.buffer.clear();
        (status, n)
    }

    fn recovering(&self) -> bool {
        !self.replay.is_empty()
    }

    fn advance_to(&mut self, epoch: Epoch) {
        if let Some(handle) = self.handle.as_mut() {
            if let Some(history) = self.history.as_mut() {
                history.close_epoch(*handle.time(), self.reader.checkpoint());
            }
            handle.advance_to(epoch);
            handle.flush();
        }
    }

    fn processed(&mut self, frontier: Epoch) {
        // With history, a record counts as processed only once its file is committed too.
        let frontier = self.history.as_ref().map_or(frontier, |h| frontier.min(h.durable()));
        if frontier > self.reported {
            self.reported = frontier;
            self.reader.processed(frontier);
        }
    }

    fn close(&mut self) -> Result<(), EngineError> {
        let Some(handle) = self.handle.take() else {
            return Ok(());
        };
        if let Some(queue) = &self.ingest {
            queue.detach_input();
        }
        match self.history.as_mut() {
            Some(history) => {
                history.close_epoch(*handle.time(), self.reader.checkpoint());
                history.finish()
            }
            None => Ok(()),
        }
    }
}
