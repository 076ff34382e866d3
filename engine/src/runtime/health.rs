//! What `/readyz` and `/metrics` need from a running pipeline: whether every worker is
//! built, whether recovery is still running, the source readers' health, and when each
//! epoch was opened (so the query side can tell how old the committed frontier is).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::source::{Connectivity, SourceHealthRegistry};
use crate::time::Epoch;

/// How many epoch opening times are kept; older frontiers report the oldest kept time,
/// which understates their age (they are older still).
const EPOCH_CLOCK_CAPACITY: usize = 4096;

/// The health of one running pipeline (see the module docs).
#[derive(Debug)]
pub struct PipelineHealth {
    peers: usize,
    built: AtomicUsize,
    recovering: AtomicBool,
    sources: SourceHealthRegistry,
    /// `(epoch, opened at, ms since the Unix epoch)` of worker 0, oldest first.
    epochs: Mutex<VecDeque<(Epoch, u64)>>,
}

impl Default for PipelineHealth {
    /// The health of no pipeline at all: ready, nothing to report.
    fn default() -> Self {
        Self::new(0)
    }
}

/// Why a pipeline is or is not ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Every worker has built its dataflow.
    pub workers_built: bool,
    /// Recovery (replaying history) is still running.
    pub recovering: bool,
    /// The streams whose source reports being disconnected.
    pub disconnected: Vec<String>,
}

impl Readiness {
    /// Ready: built, not recovering, no source disconnected.
    pub fn is_ready(&self) -> bool {
        self.workers_built && !self.recovering && self.disconnected.is_empty()
    }
}

impl PipelineHealth {
    /// The health of a pipeline on `peers` workers, none built yet.
    pub fn new(peers: usize) -> Self {
        Self {
            peers,
            built: AtomicUsize::new(0),
            recovering: AtomicBool::new(false),
            sources: SourceHealthRegistry::default(),
            epochs: Mutex::new(VecDeque::new()),
        }
    }

    /// One more worker has built its dataflow.
    pub(crate) fn worker_built(&self) {
        self.built.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks recovery as running (`true`) or done (`false`); while it runs the pipeline is
    /// not ready. Default: not recovering.
    pub fn set_recovering(&self, recovering: bool) {
        self.recovering.store(recovering, Ordering::SeqCst);
    }

    /// The source readers' health.
    pub fn sources(&self) -> &SourceHealthRegistry {
        &self.sources
    }

    /// Whether the pipeline is ready, and if not, why.
    pub fn readiness(&self) -> Readiness {
        Readiness {
            workers_built: self.built.load(Ordering::SeqCst) >= self.peers,
            recovering: self.recovering.load(Ordering::SeqCst),
            disconnected: self
                .sources
                .snapshot()
                .into_iter()
                .filter(|s| s.connectivity == Connectivity::Disconnected)
                .map(|s| s.stream)
                .collect(),
        }
    }

    /// Records that worker 0 opened `epoch` now.
    pub(crate) fn epoch_opened(&self, epoch: Epoch) {
        let mut epochs = self.epochs.lock().unwrap_or_else(PoisonError::into_inner);
        if epochs.len() == EPOCH_CLOCK_CAPACITY {
            epochs.pop_front();
        }
        epochs.push_back((epoch, now_ms()));
    }

    /// How long ago (ms) the epoch at `frontier` was opened: every record that arrived
    /// before then is visible at `frontier`, so this is the age of the freshest data a
    /// query can see. `None` before the first epoch and once every input has ended.
    pub fn frontier_age_ms(&self, frontier: Epoch) -> Option<u64> {
        if frontier == Epoch::MAX {
            return None;
        }
        let epochs = self.epochs.lock().unwrap_or_else(PoisonError::into_inner);
        let index = epochs.partition_point(|(e, _)| *e <= frontier);
        let (_, opened) = epochs.get(index.saturating_sub(1))?;
        Some(now_ms().saturating_sub(*opened))
    }

    /// The latest epoch worker 0 opened.
    pub fn current_epoch(&self) -> Option<Epoch> {
        self.epochs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .back()
            .map(|(e, _)| *e)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::source::StreamCounters;

    #[test]
    fn ready_once_built_and_not_while_recovering_or_disconnected() {
        let health = PipelineHealth::new(2);
        assert!(!health.readiness().workers_built);
        health.worker_built();
        health.worker_built();
        assert!(health.readiness().is_ready());
        health.set_recovering(true);
        assert!(!health.readiness().is_ready());
        health.set_recovering(false);
        let link = health
            .sources()
            .register("readings", "mqtt".into(), Arc::new(StreamCounters::default()));
        link.report_connected(false);
        assert_eq!(health.readiness().disconnected, vec!["readings".to_string()]);
        link.report_connected(true);
        assert!(health.readiness().is_ready());
    }

    #[test]
    fn frontier_age_uses_the_opening_time_of_the_frontier_epoch() {
        let health = PipelineHealth::new(1);
        assert_eq!(health.frontier_age_ms(0), None);
        health.epoch_opened(0);
        health.epoch_opened(1);
        assert!(health.frontier_age_ms(1).is_some());
        assert!(health.frontier_age_ms(5).is_some());
        assert_eq!(health.frontier_age_ms(Epoch::MAX), None);
        assert_eq!(health.current_epoch(), Some(1));
    }
}
