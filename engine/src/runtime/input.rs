//! Drives one source reader into one timely input.

use std::sync::Arc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;

use crate::source::{SourceOutput, SourceReader, SourceStatus, StreamCounters};
use crate::time::Epoch;

/// A source reader bound to its dataflow input, type-erased for the worker loop.
pub(crate) trait DrivenInput {
    /// Polls the reader and sends what it emitted; returns its status and how many records.
    fn poll(&mut self, budget: usize) -> (SourceStatus, usize);
    /// Moves the input to a later epoch.
    fn advance_to(&mut self, epoch: Epoch);
}

type Handle<T> = InputHandle<Epoch, CapacityContainerBuilder<Vec<(T, Epoch, isize)>>>;

pub(crate) struct InputDriver<T: Clone + 'static> {
    handle: Handle<T>,
    reader: Box<dyn SourceReader<T>>,
    counters: Arc<StreamCounters>,
    buffer: Vec<(T, Epoch, isize)>,
}

impl<T: Clone + 'static> InputDriver<T> {
    pub(crate) fn new(handle: Handle<T>, reader: Box<dyn SourceReader<T>>, counters: Arc<StreamCounters>) -> Self {
        Self {
            handle,
            reader,
            counters,
            buffer: Vec::new(),
        }
    }
}

impl<T: Clone + 'static> DrivenInput for InputDriver<T> {
    fn poll(&mut self, budget: usize) -> (SourceStatus, usize) {
        let mut out = SourceOutput {
            buffer: &mut self.buffer,
            epoch: *self.handle.time(),
            counters: &self.counters,
        };
        let status = self.reader.poll(&mut out, budget);
        let n = self.buffer.len();
        self.handle.send_batch(&mut self.buffer);
        self.buffer.clear();
        (status, n)
    }

    fn advance_to(&mut self, epoch: Epoch) {
        self.handle.advance_to(epoch);
        self.handle.flush();
    }
}
