//! Exports: getting a collection's updates out of the dataflow without ever blocking it.
//!
//! [`Pipeline::export`](crate::Pipeline::export) ends a collection in a sink operator on
//! every worker. Like a projection sink, it hands over only *complete* epochs: updates are
//! stashed until the worker's input frontier has passed their epoch, then given, in epoch
//! order, to the worker's [`ExportConsumer`]. The consumer runs on the worker thread, inside
//! the dataflow step, so it must return at once: hand the updates to a bounded queue
//! (`try_send`) and deal with a full one (drop, count, dead-letter), never wait on I/O.
//! Action delivery ([`crate::delivery`]) is built on this.
//!
//! ```
//! use std::sync::mpsc;
//! use tributary_engine::{Epoch, EngineError, Pipeline, Runtime, RuntimeConfig};
//! use tributary_engine::source::*;
//!
//! /// The numbers 0..10, split over the workers.
//! struct Numbers;
//! impl Source<u64> for Numbers {
//!     fn describe(&self) -> String { "numbers".into() }
//!     fn open(&self, w: WorkerInfo) -> Result<Box<dyn SourceReader<u64>>, EngineError> {
//!         let mine: Vec<u64> = (0..10).filter(|i| *i as usize % w.peers == w.index).collect();
//!         Ok(Box::new(Once(Some(mine))))
//!     }
//! }
//! struct Once(Option<Vec<u64>>);
//! impl SourceReader<u64> for Once {
//!     fn poll(&mut self, out: &mut SourceOutput<'_, u64>, _budget: usize) -> SourceStatus {
//!         self.0.take().into_iter().flatten().for_each(|n| out.give(n));
//!         SourceStatus::Finished
//!     }
//! }
//!
//! let (tx, rx) = mpsc::sync_channel::<(u64, Epoch, isize)>(100);
//! let run = Runtime::start(RuntimeConfig::with_workers(2), move |p: &mut Pipeline<'_>| {
//!     let squares = p.source("numbers", &Numbers)?.map(|n| n * n);
//!     let tx = tx.clone();
//!     // Never block the worker: a full channel would drop (a real consumer counts it).
//!     p.export("squares", squares, Box::new(move |_upper: Epoch, updates: Vec<(u64, Epoch, isize)>| {
//!         for update in updates {
//!             let _ = tx.try_send(update);
//!         }
//!     }))
//! })?;
//! run.join()?;
//! let mut got: Vec<u64> = rx.try_iter().map(|(n, _, diff)| { assert_eq!(diff, 1); n }).collect();
//! got.sort();
//! assert_eq!(got, (0..10).map(|n| n * n).collect::<Vec<_>>());
//! # Ok::<(), EngineError>(())
//! ```

use differential_dataflow::VecCollection;
use timely::dataflow::channels::pact::Pipeline as Local;
use timely::dataflow::operators::generic::Operator;

use crate::time::Epoch;

/// Receives one worker's complete updates of an exported collection.
///
/// Called on the worker thread: implementations must not block (see the module docs).
pub trait ExportConsumer<D>: 'static {
    /// `updates` holds every update with an epoch below `upper` not handed over before,
    /// sorted by epoch; it is never empty.
    fn consume(&mut self, upper: Epoch, updates: Vec<(D, Epoch, isize)>);
}

impl<D, F> ExportConsumer<D> for F
where
    F: FnMut(Epoch, Vec<(D, Epoch, isize)>) + 'static,
{
    fn consume(&mut self, upper: Epoch, updates: Vec<(D, Epoch, isize)>) {
        self(upper, updates);
    }
}

/// Ends `collection` in a sink that hands its complete epochs to `consumer`.
pub(crate) fn attach_export<'scope, D>(
    name: &str,
    collection: VecCollection<'scope, Epoch, D, isize>,
    mut consumer: Box<dyn ExportConsumer<D>>,
) where
    D: Clone + 'static,
{
    let mut stash: Vec<(D, Epoch, isize)> = Vec::new();
    collection
        .inner
        .sink(Local, &format!("Export({name})"), move |(input, frontier)| {
            input.for_each(|_cap, data| stash.append(data));
            if stash.is_empty() {
                return;
            }
            let upper = frontier.frontier().iter().copied().min().unwrap_or(Epoch::MAX);
            let (mut ready, later): (Vec<_>, Vec<_>) = stash.drain(..).partition(|(_, t, _)| *t < upper);
            stash = later;
            if !ready.is_empty() {
                ready.sort_by_key(|(_, t, _)| *t);
                consumer.consume(upper, ready);
            }
        });
}
