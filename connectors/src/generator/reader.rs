//! One worker's share of the generator: indices `i ≡ worker mod peers`, paced to the rate.

use std::time::Instant;

use tributary_engine::source::{SourceCheckpoint, SourceOutput, SourceReader, SourceStatus, WorkerInfo};

use super::{SensorGenerator, SensorReading};

pub(super) struct GeneratorReader {
    generator: SensorGenerator,
    next: u64,
    step: u64,
    started: Instant,
    /// The global index pacing starts from (0, or where a resumed reader continues).
    paced_from: u64,
}

impl GeneratorReader {
    pub(super) fn new(generator: SensorGenerator, worker: WorkerInfo) -> Self {
        Self {
            generator,
            next: worker.index as u64,
            step: worker.peers as u64,
            started: Instant::now(),
            paced_from: 0,
        }
    }

    /// Continues at global index `next` (one of this worker's), paced from there on.
    pub(super) fn resuming_at(mut self, next: u64) -> Self {
        self.next = next;
        self.paced_from = next;
        self
    }

    /// The global index this reader may emit up to (exclusive) right now.
    fn allowed(&self) -> u64 {
        let c = self.generator.config();
        let paced = if c.rate == 0 {
            u64::MAX
        } else {
            self.paced_from
                .saturating_add((self.started.elapsed().as_secs_f64() * c.rate as f64) as u64)
        };
        c.limit.map_or(paced, |l| paced.min(l))
    }
}

impl SourceReader<SensorReading> for GeneratorReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, SensorReading>, budget: usize) -> SourceStatus {
        let allowed = self.allowed();
        let mut emitted = 0;
        while self.next < allowed && emitted < budget {
            out.give(self.generator.reading(self.next));
            self.next += self.step;
            emitted += 1;
        }
        match self.generator.config().limit {
            Some(limit) if self.next >= limit => SourceStatus::Finished,
            _ if self.next < allowed => SourceStatus::Ready,
            _ => SourceStatus::Idle,
        }
    }

    /// The next global index this reader would emit (its indices step by the worker count).
    fn checkpoint(&self) -> Option<SourceCheckpoint> {
        Some(SourceCheckpoint::Sequence { next: self.next })
    }
}
