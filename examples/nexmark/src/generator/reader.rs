//! One worker's share of the generator: indices `i ≡ worker mod peers`, as fast as polled.

use tributary_engine::source::{SourceCheckpoint, SourceOutput, SourceReader, SourceStatus, WorkerInfo};

use super::{Event, NexmarkGenerator};

pub(super) struct NexmarkReader {
    generator: NexmarkGenerator,
    next: u64,
    step: u64,
}

impl NexmarkReader {
    pub(super) fn new(generator: NexmarkGenerator, worker: WorkerInfo) -> Self {
        Self {
            generator,
            next: worker.index as u64,
            step: worker.peers.max(1) as u64,
        }
    }
}

impl SourceReader<Event> for NexmarkReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, Event>, budget: usize) -> SourceStatus {
        let limit = self.generator.config().events;
        let mut emitted = 0;
        while self.next < limit && emitted < budget {
            out.give(self.generator.event(self.next));
            self.next += self.step;
            emitted += 1;
        }
        if self.next >= limit {
            SourceStatus::Finished
        } else {
            SourceStatus::Ready
        }
    }

    /// The next global index this reader would emit (its indices step by the worker count).
    fn checkpoint(&self) -> Option<SourceCheckpoint> {
        Some(SourceCheckpoint::Sequence { next: self.next })
    }
}
