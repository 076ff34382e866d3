//! A per-worker gauge of how much state an operator retains, for tests and metrics.
//!
//! Compaction is only trustworthy if it can be observed: the stateful window operators
//! publish the number of entries they hold (buffered records, session events) after each
//! activation, so a test can check that state behind the watermark is really released.

use std::cell::Cell;
use std::rc::Rc;

/// The number of entries an operator holds on this worker (shared with the operator).
#[derive(Debug, Clone, Default)]
pub struct StateSize(Rc<Cell<usize>>);

impl StateSize {
    /// Entries held after the operator's latest activation.
    pub fn get(&self) -> usize {
        self.0.get()
    }

    pub(crate) fn set(&self, n: usize) {
        self.0.set(n);
    }
}
