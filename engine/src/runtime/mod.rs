//! The worker runtime: timely workers that poll sources, cut epochs and step the dataflow.
//!
//! [`Runtime::start`] spawns `workers` timely worker threads. Each builds the pipeline, then
//! loops: poll every source reader (bounded by a budget), close the current epoch when it is
//! old enough or large enough, and step the dataflow. Two rules keep it fast and bounded:
//!
//! * **coarse epochs**: one logical time per `epoch_interval` or `epoch_max_records`, never
//!   one per record — differential's cost grows with distinct times;
//! * **backpressure**: a worker stops polling, and cutting epochs, while its inputs are more
//!   than `max_epochs_in_flight` epochs ahead of the projections, so a fast source cannot
//!   queue unbounded work (and the worker does not run away from the frontier).
//!
//! Readers hear when their records have reached every projection
//! ([`SourceReader::processed`](crate::source::SourceReader::processed)), which is when a
//! Kafka source commits offsets and an MQTT source acknowledges messages.
//!
//! Shutdown ([`ShutdownHandle::shutdown`], e.g. on Ctrl-C) stops the sources, closes the
//! inputs and lets the dataflow drain, so every accepted record reaches the projections.
//!
//! Started on a history store that already holds committed files, the workers first
//! [recover](crate::history::recovery) from them: replay, then resume the sources.

mod config;
mod counters;
mod health;
mod history_tap;
mod input;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use config::RuntimeConfig;
pub use counters::CounterRegistry;
pub use health::{PipelineHealth, Readiness};
pub(crate) use history_tap::HistoryTap;
pub(crate) use input::{DrivenInput, InputDriver, StreamBookkeeping};

use crate::EngineError;
use crate::delivery::{DeliveryHistory, DeliveryLog, EpochClock};
use crate::history::{HistoryStore, Recovery};
use crate::ingest::IngestRegistry;
use crate::live::LiveCatalog;
use crate::pipeline::Pipeline;
use crate::source::DeadLetterQueue;

/// What the workers of one running pipeline share with each other and with the query side.
#[derive(Debug, Clone)]
pub(crate) struct Services {
    pub(crate) catalog: Arc<LiveCatalog>,
    pub(crate) counters: Arc<CounterRegistry>,
    pub(crate) dead_letters: Arc<DeadLetterQueue>,
    pub(crate) ingest: Arc<IngestRegistry>,
    pub(crate) health: Arc<PipelineHealth>,
    pub(crate) deliveries: Arc<DeliveryLog>,
    /// Where accepted records are appended, if history is on.
    pub(crate) history: Option<Arc<dyn HistoryStore>>,
    /// What the workers replay before their sources resume, if history held anything.
    pub(crate) recovery: Option<Arc<Recovery>>,
}

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
    /// Starts `build` on `config.workers` worker threads and returns at once. Dead letters
    /// are kept in memory only (see [`Runtime::start_with`]).
    pub fn start<F>(config: RuntimeConfig, build: F) -> Result<RunningPipeline, EngineError>
    where
        F: Fn(&mut Pipeline<'_>) -> Result<(), EngineError> + Send + Sync + 'static,
    {
        Self::start_with(config, Arc::new(DeadLetterQueue::default()), build)
    }

    /// Starts `build` with rejected records going to `dead_letters`; no history.
    pub fn start_with<F>(
        config: RuntimeConfig,
        dead_letters: Arc<DeadLetterQueue>,
        build: F,
    ) -> Result<RunningPipeline, EngineError>
    where
        F: Fn(&mut Pipeline<'_>) -> Result<(), EngineError> + Send + Sync + 'static,
    {
        Self::start_delivering(config, dead_letters, Arc::new(DeliveryLog::default()), build)
    }

    /// Starts `build` with rejected records going to `dead_letters`, and `deliveries` as the
    /// log its action sinks record into (so that `system.actions` shows it; see
    /// [`RunningPipeline::deliveries`]); no history.
    pub fn start_delivering<F>(
        config: RuntimeConfig,
        dead_letters: Arc<DeadLetterQueue>,
        deliveries: Arc<DeliveryLog>,
        build: F,
    ) -> Result<RunningPipeline, EngineError>
    where
        F: Fn(&mut Pipeline<'_>) -> Result<(), EngineError> + Send + Sync + 'static,
    {
        Self::start_with_history(config, dead_letters, deliveries, None, build)
    }

    /// Starts `build` with rejected records going to `dead_letters`, action deliveries
    /// recorded in `deliveries` and, if `history` is given, every accepted record of every
    /// stream appended to it (see [`crate::history`]). If `history` already holds committed
    /// files, the pipeline first recovers from them (see [`crate::history::recovery`]);
    /// [`RunningPipeline::health`] reports it as not ready until that is done.
    pub fn start_with_history<F>(
        config: RuntimeConfig,
        dead_letters: Arc<DeadLetterQueue>,
        deliveries: Arc<DeliveryLog>,
        history: Option<Arc<dyn HistoryStore>>,
        build: F,
    ) -> Result<RunningPipeline, EngineError>
    where
        F: Fn(&mut Pipeline<'_>) -> Result<(), EngineError> + Send + Sync + 'static,
    {
        config.validate()?;
        let recovery = history
            .as_ref()
            .and_then(|store| Recovery::plan(store.clone(), config.workers))
            .map(Arc::new);
        if let Some(recovery) = &recovery {
            tracing::info!(
                files = recovery.files().len(),
                resume_epoch = recovery.resume_epoch(),
                "recovering from history"
            );
        }
        let services = Services {
            catalog: Arc::new(LiveCatalog::new(config.workers)),
            counters: Arc::new(CounterRegistry::default()),
            dead_letters,
            ingest: Arc::new(IngestRegistry::default()),
            health: Arc::new(PipelineHealth::new(config.workers)),
            deliveries,
            history,
            recovery,
        };
        services.health.set_recovering(services.recovery.is_some());
        if let Some(store) = &services.history {
            let health = services.health.clone();
            let clock: EpochClock = Arc::new(move || health.current_epoch());
            services
                .deliveries
                .record_into(DeliveryHistory::open(store.as_ref(), clock)?)?;
        }
        let shutdown = ShutdownHandle::default();
        let ctx = worker::WorkerContext {
            config: config.clone(),
            services: services.clone(),
            shutdown: shutdown.clone(),
        };
        let guards = timely::execute(timely::Config::process(config.workers), move |w| {
            worker::run(w, &ctx, &build)
        })
        .map_err(EngineError::Runtime)?;
        // Every worker registers its streams while building; wait for them so that ingest
        // endpoints exist once `start` returns.
        services.ingest.wait_for_workers(config.workers);
        Ok(RunningPipeline {
            services,
            shutdown,
            guards: Some(guards),
        })
    }
}

/// A pipeline running on its worker threads. Dropping it without [`join`](Self::join) or
/// [`shutdown`](Self::shutdown) (an early return, a failed assertion) shuts it down and waits
/// for the workers, rather than waiting forever for an unbounded source to end.
pub struct RunningPipeline {
    services: Services,
    shutdown: ShutdownHandle,
    /// Taken by [`RunningPipeline::join`]; still here on drop means nobody waited for it.
    guards: Option<timely::communication::WorkerGuards<WorkerResult>>,
}

impl std::fmt::Debug for RunningPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningPipeline")
            .field("catalog", &self.services.catalog)
            .finish()
    }
}

impl Drop for RunningPipeline {
    fn drop(&mut self) {
        if let Some(guards) = self.guards.take() {
            self.shutdown.shutdown();
            drop(guards);
        }
    }
}

impl RunningPipeline {
    /// The live projections.
    pub fn catalog(&self) -> Arc<LiveCatalog> {
        self.services.catalog.clone()
    }

    /// Per-stream ingest counters.
    pub fn counters(&self) -> Arc<CounterRegistry> {
        self.services.counters.clone()
    }

    /// The dead-letter queue every stream rejects into.
    pub fn dead_letters(&self) -> Arc<DeadLetterQueue> {
        self.services.dead_letters.clone()
    }

    /// The log the pipeline's action sinks record deliveries into.
    pub fn deliveries(&self) -> Arc<DeliveryLog> {
        self.services.deliveries.clone()
    }

    /// HTTP ingest endpoints, one per stream.
    pub fn ingest(&self) -> Arc<IngestRegistry> {
        self.services.ingest.clone()
    }

    /// Readiness (workers built, recovery, source connectivity) and epoch timing.
    pub fn health(&self) -> Arc<PipelineHealth> {
        self.services.health.clone()
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
    pub fn join(mut self) -> Result<(), EngineError> {
        let Some(guards) = self.guards.take() else {
            return Ok(());
        };
        let mut first_error = None;
        for result in guards.join() {
            let outcome = result.map_err(EngineError::Runtime).and_then(|r| r);
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
