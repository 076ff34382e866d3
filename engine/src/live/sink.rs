//! The operator that moves a projection's updates from the dataflow into its live table.

use std::sync::Arc;

use differential_dataflow::VecCollection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

use super::{LiveCatalog, LiveTable, ProjectionTable};
use crate::time::Epoch;

/// Ends `collection` in a sink that stages this worker's complete updates in `table` and
/// reports the worker's frontier to `catalog`.
///
/// Updates are handed over only once the input frontier has passed their epoch, so the
/// catalog never applies half an epoch.
pub(crate) fn attach_projection_sink<'scope, K, P>(
    collection: VecCollection<'scope, Epoch, (K, P), isize>,
    table: Arc<ProjectionTable<K, P>>,
    catalog: Arc<LiveCatalog>,
    worker: usize,
) where
    K: Ord + Clone + DeserializeOwned + Send + Sync + 'static,
    P: Serialize + PartialEq + Clone + Send + Sync + 'static,
{
    let name = table.name().to_string();
    let mut stash: Vec<(K, P, Epoch, i64)> = Vec::new();
    let mut reported: Option<Epoch> = None;
    collection.inner.sink(
        Pipeline,
        &format!("ProjectionSink({name})"),
        move |(input, frontier)| {
            input.for_each(|_cap, data| {
                stash.extend(data.drain(..).map(|((k, p), t, r)| (k, p, t, r as i64)));
            });
            let upper = frontier.frontier().iter().copied().min().unwrap_or(Epoch::MAX);
            if stash.iter().all(|(_, _, t, _)| *t < upper) {
                table.stage(stash.drain(..));
            } else {
                let (ready, later): (Vec<_>, Vec<_>) = stash.drain(..).partition(|(_, _, t, _)| *t < upper);
                stash = later;
                table.stage(ready);
            }
            if reported != Some(upper) {
                catalog.report_frontier(&name, worker, upper);
                reported = Some(upper);
            }
        },
    );
}
