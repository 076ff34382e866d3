//! The worker runtime: timely workers that poll sources, cut epochs and step the dataflow.
//!
//! [`Runtime::start`] spawns `workers` timely worker threads. Each builds the pipeline, then
//! loops: poll every source reader (bounded by a budget), close the current epoch when it is
//! old enough or large enough, and step the dataflow. Two rules keep it fast and bounded:
//!
//! * **coarse epochs**: one logical time per `epoch_interval` or `epoch_max_records`, never
//!   one per record — differential's cost grows with distinct times;
//! * **backpressure**: a worker stops polling while its inputs are more than
//!   `max_epochs_in_flight` epochs ahead of the projections, so a fast source cannot queue
//!   unbounded work.
//!
//! Shutdown ([`ShutdownHandle::shutdown`], e.g. on Ctrl-C) stops the sources, closes the
//! inputs and lets the dataflow drain, so every accepted record reaches the projections.

mod config;
mod counters;
mod input;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use config::RuntimeConfig;
pub use counters::CounterRegistry;
pub(crate) use input::{DrivenInput, InputDriver};

use crate::EngineError;
use crate::live::LiveCatalog;
use crate::pipeline::Pipeline;

/// Asks a running pipeline to stop: sources stop, inputs close, the dataflow drains.
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle(Arc<AtomicBool>);

impl ShutdownHandle {
    /// Requests shutdown; idempotent.
    pub fn shutdown(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown was requested.
    pub fn is_shutdown(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Entry point for running pipelines.
#[derive(Debug)]
pub struct Runtime;

type WorkerResult = Result<(), EngineError>;

impl Runtime {
    /// Starts `build` on `config.workers` worker threads and returns at once.
    pub fn start<F>(config: RuntimeConfig, build: F) -> Result<RunningPipeline, EngineError>
    where
        F: Fn(&mut Pipeline<'_>) -> Result<(), EngineError> + Send + Sync + 'static,
    {
        config.validate()?;
        let catalog = Arc::new(LiveCatalog::new(config.workers));
        let counters = Arc::new(CounterRegistry::default());
        let shutdown = ShutdownHandle::default();
        let ctx = worker::WorkerContext {
            config: config.clone(),
            catalog: catalog.clone(),
            counters: counters.clone(),
            shutdown: shutdown.clone(),
        };
        let guards = timely::execute(timely::Config::process(config.workers), move |w| {
            worker::run(w, &ctx, &build)
        })
        .map_err(EngineError::Runtime)?;
        Ok(RunningPipeline {
            catalog,
            counters,
            shutdown,
            guards,
        })
    }
}

/// A pipeline running on its worker threads.
pub struct RunningPipeline {
    catalog: Arc<LiveCatalog>,
    counters: Arc<CounterRegistry>,
    shutdown: ShutdownHandle,
    guards: timely::communication::WorkerGuards<WorkerResult>,
}

impl std::fmt::Debug for RunningPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningPipeline")
            .field("catalog", &self.catalog)
            .finish()
    }
}

impl RunningPipeline {
    /// The live projections.
    pub fn catalog(&self) -> Arc<LiveCatalog> {
        self.catalog.clone()
    }

    /// Per-stream ingest counters.
    pub fn counters(&self) -> Arc<CounterRegistry> {
        self.counters.clone()
    }

    /// A handle that stops the pipeline from elsewhere (a signal handler, a test).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Requests shutdown and waits until the dataflow has drained.
    pub fn shutdown(self) -> Result<(), EngineError> {
        self.shutdown.shutdown();
        self.join()
    }

    /// Waits until every worker has finished (bounded sources, or after shutdown).
    pub fn join(self) -> Result<(), EngineError> {
        let mut first_error = None;
        for result in self.guards.join() {
            let outcome = result.map_err(EngineError::Runtime).and_then(|r| r);
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
