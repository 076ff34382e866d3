//! What the stateful window operators share: per-epoch buffers, and a per-worker gauge of
//! how much state an operator retains.
//!
//! Both custom operators buffer each epoch's updates, with a capability to emit at that
//! epoch, until their input frontier says the epoch is complete ([`Pending`], [`bound`]).
//! Compaction is only trustworthy if it can be observed: they publish the number of entries
//! they hold (buffered records, session events) after each activation ([`StateSize`]), so a
//! test can check that state behind the watermark is really released.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use timely::dataflow::operators::Capability;
use timely::progress::frontier::MutableAntichain;
use tributary_engine::Epoch;

/// The updates of each incomplete epoch, with a capability to emit output at that epoch.
pub(crate) type Pending<U> = BTreeMap<Epoch, (Capability<Epoch>, Vec<U>)>;

/// The first epoch not yet complete at a frontier (`Epoch::MAX` once the input is closed).
pub(crate) fn bound(frontier: &MutableAntichain<Epoch>) -> Epoch {
    frontier.frontier().first().copied().unwrap_or(Epoch::MAX)
}

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
