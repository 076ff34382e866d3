//! Running a query to completion over the generator: timed, or collecting its result.
//!
//! Both runners build the same pipeline on every worker — the generator as the stream
//! [`EVENTS`], the query, and an export of its output ([`OUTPUT`]) — and differ only in what
//! the export does with the output's updates. [`measure`] only counts them (a "blackhole"
//! sink, as the Flink Nexmark suite uses), so the figure is the dataflow's own cost;
//! [`collect`] keeps them and consolidates them into the final result, a multiset of rows.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tributary_engine::source::Source;
use tributary_engine::{Collection, Epoch, Pipeline, Runtime, RuntimeConfig};

use crate::{Event, NexmarkError, NexmarkGenerator};

/// A query: the dataflow from the event stream to the query's output rows.
pub type QueryFn<R> = for<'s> fn(Collection<'s, Event>) -> Collection<'s, R>;

/// Name of the event stream.
pub const EVENTS: &str = "events";
/// Name of the export of the query's output.
pub const OUTPUT: &str = "output";

/// What a timed run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Events generated and processed (all three kinds).
    pub events: u64,
    /// Worker threads.
    pub workers: usize,
    /// Wall-clock seconds from start until the dataflow had drained.
    pub seconds: f64,
    /// Updates (insertions and retractions) the query emitted.
    pub output_updates: u64,
}

impl Measurement {
    /// Events per second over all workers.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }

    /// Events per second per worker (each worker is one thread, so one core).
    pub fn events_per_second_per_core(&self) -> f64 {
        self.events_per_second() / self.workers as f64
    }
}

/// Runs `query` over all of `generator`'s events on `runtime.workers` workers and times it.
pub fn measure<R: Clone + 'static>(
    query: QueryFn<R>,
    generator: &NexmarkGenerator,
    runtime: RuntimeConfig,
) -> Result<Measurement, NexmarkError> {
    let updates = Arc::new(AtomicU64::new(0));
    let counted = updates.clone();
    let workers = runtime.workers;
    let source = generator.clone();
    let started = Instant::now();
    let run = Runtime::start(runtime, move |p: &mut Pipeline<'_>| {
        let output = query(p.source(EVENTS, &source)?);
        let counted = counted.clone();
        let count = move |_upper: Epoch, batch: Vec<(R, Epoch, isize)>| {
            counted.fetch_add(batch.len() as u64, Ordering::Relaxed);
        };
        p.export(OUTPUT, output, Box::new(count))
    })?;
    run.join()?;
    Ok(Measurement {
        events: generator.config().events,
        workers,
        seconds: started.elapsed().as_secs_f64(),
        output_updates: updates.load(Ordering::Relaxed),
    })
}

/// Runs `query` over all of `source`'s events (the generator, or any bounded source of
/// events, e.g. hand-made edge cases) and returns its final result: every row as often as
/// its multiplicity, sorted. A row left with a negative multiplicity (more retractions than
/// insertions) is an error.
pub fn collect<R, S>(query: QueryFn<R>, source: &S, runtime: RuntimeConfig) -> Result<Vec<R>, NexmarkError>
where
    R: Ord + Clone + Debug + Send + 'static,
    S: Source<Event> + Clone,
{
    let updates: Arc<Mutex<Vec<(R, isize)>>> = Arc::default();
    let kept = updates.clone();
    let source = source.clone();
    let run = Runtime::start(runtime, move |p: &mut Pipeline<'_>| {
        let output = query(p.source(EVENTS, &source)?);
        let kept = kept.clone();
        let keep = move |_upper: Epoch, batch: Vec<(R, Epoch, isize)>| {
            // Held for one append per batch of complete epochs: never blocks for long.
            let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.extend(batch.into_iter().map(|(row, _, diff)| (row, diff)));
        };
        p.export(OUTPUT, output, Box::new(keep))
    })?;
    run.join()?;
    let updates = std::mem::take(&mut *updates.lock().unwrap_or_else(PoisonError::into_inner));
    consolidate(updates)
}

/// Sums the multiplicities of equal rows and expands the result into a sorted multiset.
pub fn consolidate<R: Ord + Clone + Debug>(updates: Vec<(R, isize)>) -> Result<Vec<R>, NexmarkError> {
    let mut counts: BTreeMap<R, isize> = BTreeMap::new();
    for (row, diff) in updates {
        *counts.entry(row).or_insert(0) += diff;
    }
    let mut rows = Vec::new();
    for (row, count) in counts {
        if count < 0 {
            return Err(NexmarkError::NegativeMultiplicity {
                row: format!("{row:?}"),
                count,
            });
        }
        rows.extend(std::iter::repeat_n(row, count as usize));
    }
    Ok(rows)
}
