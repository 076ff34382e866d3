//! One worker's loop: build the dataflow, replay what recovery found in history, then poll,
//! cut epochs and step until done.

use std::time::{Duration, Instant};

use timely::worker::Worker;

use super::{RuntimeConfig, Services, ShutdownHandle};
use crate::EngineError;
use crate::pipeline::Pipeline;
use crate::source::{SourceStatus, WorkerInfo};
use crate::time::Epoch;

/// What every worker shares.
pub(crate) struct WorkerContext {
    pub(crate) config: RuntimeConfig,
    pub(crate) services: Services,
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
    let built = worker.dataflow::<Epoch, _, _>(|scope| {
        let mut pipeline = Pipeline::new(scope, info, ctx.services.clone());
        build(&mut pipeline).map(|()| pipeline.finish())
    });
    ctx.services.ingest.worker_built();
    ctx.services.health.worker_built();
    let (inputs, probe) = built?;

    let cfg = &ctx.config;
    let mut inputs = inputs;
    let mut open: Vec<bool> = vec![true; inputs.len()];
    let mut epoch: Epoch = 0;
    let mut epoch_started = Instant::now();
    let mut epoch_records = 0usize;
    // Worker 0's epoch clock stands for all workers (they cut epochs on the same schedule).
    let clock = (info.index == 0).then_some(&ctx.services.health);
    if let Some(health) = clock {
        health.epoch_opened(epoch);
    }
    // The first history write error; the input keeps running, its offsets stay uncommitted.
    let mut failure: Option<EngineError> = None;
    // Recovery first: replayed epochs are cut only by the replay, never by the clock.
    let mut recovery = ctx.services.recovery.clone();
    let recovery_started = Instant::now();

    while open.iter().any(|o| *o) && !ctx.shutdown.is_shutdown() {
        let mut busy = false;
        let mut cut = false;
        // Backpressure: poll only while the projections are close enough behind.
        let caught_up = !probe.less_than(&epoch.saturating_sub(cfg.max_epochs_in_flight));
        if let Some(plan) = recovery.as_ref().filter(|_| caught_up) {
            busy = true;
            // Cut once no input has more for this epoch (an input short of budget says Ready).
            let mut more = false;
            for input in inputs.iter_mut().filter(|i| i.recovering()) {
                more |= input.poll(cfg.poll_budget).0 == SourceStatus::Ready;
            }
            if inputs.iter().all(|i| !i.recovering()) {
                // Continue after every epoch history holds, so no epoch is used twice.
                epoch = plan.resume_epoch().max(epoch + 1);
                for input in &mut inputs {
                    input.advance_to(epoch);
                }
                if let Some(health) = clock {
                    health.epoch_opened(epoch);
                }
                epoch_started = Instant::now();
                epoch_records = 0;
                tracing::info!(
                    worker = info.index,
                    resume_epoch = epoch,
                    elapsed_ms = recovery_started.elapsed().as_millis() as u64,
                    "replayed history; sources resume"
                );
                if plan.worker_done() {
                    ctx.services.health.set_recovering(false);
                    tracing::info!("recovery done: every worker replayed its history");
                }
                recovery = None;
            } else if !more {
                cut = true;
            }
        } else if recovery.is_none() && caught_up {
            for (input, open) in inputs.iter_mut().zip(open.iter_mut()).filter(|(_, o)| **o) {
                let (status, n) = input.poll(cfg.poll_budget);
                epoch_records += n;
                match status {
                    SourceStatus::Ready => busy = true,
                    SourceStatus::EpochDone => {
                        busy = true;
                        cut = true;
                    }
                    SourceStatus::Idle => {}
                    SourceStatus::Finished => {
                        if let Err(e) = input.close() {
                            failure.get_or_insert(e);
                        }
                        *open = false;
                    }
                }
            }
        }
        // Only a worker that may poll cuts on the clock. Workers cut on their own clocks, so
        // one held back by backpressure that kept cutting would run ahead as fast as the
        // slower workers' epochs, never get within `max_epochs_in_flight` again and stop
        // polling for good; standing still instead lets the frontier catch up with it.
        let clock_cut = recovery.is_none()
            && caught_up
            && (epoch_started.elapsed() >= cfg.epoch_interval() || epoch_records >= cfg.epoch_max_records);
        if cut || clock_cut {
            epoch += 1;
            for input in &mut inputs {
                input.advance_to(epoch);
            }
            if let Some(health) = clock {
                health.epoch_opened(epoch);
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
        // Tell readers what has reached every projection (offset commits, acks); each input
        // also waits for its history to be durable, which advances on its own.
        let frontier = probe.with_frontier(|f| f.first().copied().unwrap_or(Epoch::MAX));
        for input in &mut inputs {
            input.processed(frontier);
        }
    }

    // Closing the inputs lets the frontier run to its end; step until every update is out,
    // then let the readers commit what the drained dataflow processed.
    for input in &mut inputs {
        if let Err(e) = input.close() {
            failure.get_or_insert(e);
        }
    }
    while worker.step_or_park(Some(cfg.idle_park())) {}
    for input in &mut inputs {
        input.processed(Epoch::MAX);
    }
    failure.map_or(Ok(()), |e| {
        tracing::error!(worker = info.index, error = %e, "history could not be committed");
        Err(e)
    })
}
