//! One worker's loop: build the dataflow, then poll, cut epochs and step until done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::worker::Worker;

use super::{CounterRegistry, DrivenInput, RuntimeConfig, ShutdownHandle};
use crate::EngineError;
use crate::live::LiveCatalog;
use crate::pipeline::Pipeline;
use crate::source::{SourceStatus, WorkerInfo};
use crate::time::Epoch;

/// What every worker shares.
pub(crate) struct WorkerContext {
    pub(crate) config: RuntimeConfig,
    pub(crate) catalog: Arc<LiveCatalog>,
    pub(crate) counters: Arc<CounterRegistry>,
    pub(crate) shutdown: ShutdownHandle,
}

pub(crate) fn run<F>(worker: &mut Worker, ctx: &WorkerContext, build: &F) -> Result<(), EngineError>
where
    F: Fn(&mut Pipeline<'_>) -> Result<(), EngineError>,
{
    let info = WorkerInfo {
        index: worker.index(),
        peers: worker.peers(),
    };
    let (inputs, probe) = worker.dataflow::<Epoch, _, _>(|scope| {
        let mut pipeline = Pipeline::new(scope, info, ctx.catalog.clone(), ctx.counters.clone());
        build(&mut pipeline).map(|()| pipeline.finish())
    })?;

    let cfg = &ctx.config;
    let mut active: Vec<Option<Box<dyn DrivenInput>>> = inputs.into_iter().map(Some).collect();
    let mut epoch: Epoch = 0;
    let mut epoch_started = Instant::now();
    let mut epoch_records = 0usize;

    while active.iter().any(Option::is_some) && !ctx.shutdown.is_shutdown() {
        let mut busy = false;
        // Backpressure: poll only while the projections are close enough behind.
        let caught_up = !probe.less_than(&epoch.saturating_sub(cfg.max_epochs_in_flight));
        if caught_up {
            for slot in active.iter_mut() {
                let Some(input) = slot else { continue };
                let (status, n) = input.poll(cfg.poll_budget);
                epoch_records += n;
                match status {
                    SourceStatus::Ready => busy = true,
                    SourceStatus::Idle => {}
                    SourceStatus::Finished => *slot = None,
                }
            }
        }
        if epoch_started.elapsed() >= cfg.epoch_interval() || epoch_records >= cfg.epoch_max_records {
            epoch += 1;
            for input in active.iter_mut().flatten() {
                input.advance_to(epoch);
            }
            epoch_started = Instant::now();
            epoch_records = 0;
        }
        let park = if busy && caught_up {
            Duration::ZERO
        } else {
            cfg.idle_park()
        };
        worker.step_or_park(Some(park));
    }

    // Closing the inputs lets the frontier run to its end; step until every update is out.
    drop(active);
    while worker.step_or_park(Some(cfg.idle_park())) {}
    Ok(())
}
