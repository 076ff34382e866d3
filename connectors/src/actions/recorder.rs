//! Recording deliveries: [`DeliveryContext`] (passed to every sink) and the per-sink
//! [`Recorder`] that turns an outcome into a log record and, on a give-up, a dead letter.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use tributary_engine::delivery::{ActionRecord, DeliveryLog, DeliveryOutcome, DeliveryRecord, now_ms};
use tributary_engine::source::{DeadLetter, DeadLetterQueue, RejectKind, SourcePosition};

/// Where action sinks record what happened: the pipeline's delivery log and dead-letter
/// queue, and the name dead letters are filed under (the actions' stream, e.g. `actions`).
#[derive(Debug, Clone)]
pub struct DeliveryContext {
    /// Counters and recent outcomes (`system.actions`).
    pub log: Arc<DeliveryLog>,
    /// Where given-up actions go, as kind `delivery`.
    pub dead_letters: Arc<DeadLetterQueue>,
    /// The `stream` of those dead letters.
    pub stream: String,
}

impl DeliveryContext {
    /// A context recording into `log` and `dead_letters`, filing dead letters under `stream`.
    pub fn new(log: Arc<DeliveryLog>, dead_letters: Arc<DeadLetterQueue>, stream: impl Into<String>) -> Self {
        Self {
            log,
            dead_letters,
            stream: stream.into(),
        }
    }
}

/// An action in a sink's queue, stamped when the sink accepted it.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) action: ActionRecord,
    pub(crate) enqueued_at_ms: i64,
    pub(crate) enqueued: Instant,
}

impl Pending {
    pub(crate) fn now(action: ActionRecord) -> Self {
        Self {
            action,
            enqueued_at_ms: now_ms(),
            enqueued: Instant::now(),
        }
    }
}

/// What the attempts at one action came to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attempted {
    pub(crate) attempts: u32,
    pub(crate) http_status: Option<u16>,
    pub(crate) error: Option<String>,
}

/// One sink's view of the [`DeliveryContext`].
pub(crate) struct Recorder {
    context: DeliveryContext,
    sink: &'static str,
    endpoint: String,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("sink", &self.sink)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Recorder {
    pub(crate) fn new(context: DeliveryContext, sink: &'static str, endpoint: impl Into<String>) -> Self {
        Self {
            context,
            sink,
            endpoint: endpoint.into(),
        }
    }

    pub(crate) fn log(&self) -> &DeliveryLog {
        &self.context.log
    }

    /// The action, counted enqueued, could not be queued (`reason`): dead-lettered at once.
    pub(crate) fn refuse(&self, pending: &Pending, reason: String) {
        let attempted = Attempted {
            error: Some(reason),
            ..Attempted::default()
        };
        let record = self.record(pending, DeliveryOutcome::DeadLettered, &attempted);
        self.dead_letter(pending, &attempted);
        self.context.log.refused(record);
    }

    /// A started delivery ended.
    pub(crate) fn finish(&self, pending: &Pending, outcome: DeliveryOutcome, attempted: &Attempted) {
        let record = self.record(pending, outcome, attempted);
        match outcome {
            DeliveryOutcome::Delivered => {
                tracing::debug!(action = %pending.action.id, endpoint = %self.endpoint, attempts = attempted.attempts, "action delivered")
            }
            DeliveryOutcome::DeadLettered => {
                tracing::warn!(action = %pending.action.id, endpoint = %self.endpoint, error = ?attempted.error, "action dead-lettered");
                self.dead_letter(pending, attempted);
            }
        }
        self.context.log.finished(record);
    }

    fn dead_letter(&self, pending: &Pending, attempted: &Attempted) {
        let reason = format!(
            "{} {} after {} attempt(s): {}",
            self.sink,
            self.endpoint,
            attempted.attempts,
            attempted.error.as_deref().unwrap_or("no error recorded")
        );
        let raw = serde_json::to_vec(&pending.action.payload).unwrap_or_default();
        let position = SourcePosition::Action {
            id: pending.action.id.clone(),
        };
        let letter = DeadLetter::new(&self.context.stream, position, RejectKind::Delivery, reason, &raw);
        self.context.dead_letters.reject_delivery(letter);
    }

    fn record(&self, pending: &Pending, outcome: DeliveryOutcome, attempted: &Attempted) -> DeliveryRecord {
        let action = &pending.action;
        DeliveryRecord {
            action_id: action.id.clone(),
            rule: action.rule.clone(),
            key: action.key.clone(),
            state: action.state.clone(),
            sink: self.sink.to_string(),
            endpoint: self.endpoint.clone(),
            outcome,
            attempts: attempted.attempts,
            http_status: attempted.http_status,
            latency_ms: i64::try_from(pending.enqueued.elapsed().as_millis()).unwrap_or(i64::MAX),
            error: attempted.error.clone(),
            enqueued_at_ms: pending.enqueued_at_ms,
            finished_at_ms: now_ms(),
        }
    }
}
