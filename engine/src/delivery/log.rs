//! [`DeliveryLog`]: the recent outcome of every action delivery, and counters that reconcile.
//!
//! Every action a sink accepts is counted `enqueued` and ends exactly once as `delivered` or
//! `dead_lettered`; until then it is `queued` (waiting in the sink's bounded queue) or
//! `in_flight` (being attempted or waiting for a retry). So at any moment
//! `enqueued = delivered + dead_lettered + queued + in_flight`, and [`DeliveryLog::counters`]
//! reads all of them under one lock so a snapshot always satisfies it. An action a sink
//! cannot queue (full queue, closed sink) counts as enqueued and dead-lettered at once, and
//! in `refused`. The log is shared by every sink of a pipeline; its records say which sink.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::history::DeliveryHistory;
use crate::EngineError;

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The endpoint accepted the action.
    Delivered,
    /// Given up on: retries exhausted, a permanent error, a full queue or a closed sink. The
    /// action is in the dead-letter queue with the reason.
    DeadLettered,
}

impl DeliveryOutcome {
    /// The name `system.actions` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::DeadLettered => "dead_lettered",
        }
    }
}

impl fmt::Display for DeliveryOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finished delivery of one action to one sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The action's id (its idempotency key).
    pub action_id: String,
    /// The rule that emitted it.
    pub rule: String,
    /// The key it fired for.
    pub key: String,
    /// `FIRING` or `RESOLVED`.
    pub state: String,
    /// The kind of sink: `webhook`, `kafka`, `mqtt`.
    pub sink: String,
    /// Where: the URL or the topic.
    pub endpoint: String,
    /// How it ended.
    pub outcome: DeliveryOutcome,
    /// Attempts made, including those the circuit breaker failed fast (0 for a full queue).
    pub attempts: u32,
    /// The HTTP status of the last response, if there was one.
    pub http_status: Option<u16>,
    /// Milliseconds from enqueueing to the end of the last attempt.
    pub latency_ms: i64,
    /// Why the last attempt failed, or why the action was dead-lettered.
    pub error: Option<String>,
    /// When the sink accepted it, epoch milliseconds.
    pub enqueued_at_ms: i64,
    /// When the delivery ended, epoch milliseconds.
    pub finished_at_ms: i64,
}

/// The log's counters, read together (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryCounters {
    /// Actions offered to a sink (including those refused by a full queue).
    pub enqueued: u64,
    /// Actions the endpoint accepted.
    pub delivered: u64,
    /// Actions given up on.
    pub dead_lettered: u64,
    /// Of those, refused without an attempt: the sink's queue was full, or it was closed.
    pub refused: u64,
    /// Waiting in a sink's queue.
    pub queued: u64,
    /// Taken from the queue, not finished yet.
    pub in_flight: u64,
    /// Attempts made over all actions, first attempts and retries.
    pub attempts: u64,
}

#[derive(Debug, Default)]
struct State {
    counters: DeliveryCounters,
    recent: VecDeque<DeliveryRecord>,
}

/// Delivery outcomes and counters of a pipeline's action sinks (see the module docs).
#[derive(Debug)]
pub struct DeliveryLog {
    state: Mutex<State>,
    capacity: usize,
    /// Where every finished delivery is also recorded durably, once a runtime with history
    /// attached it (see [`DeliveryLog::record_into`]).
    history: Mutex<Option<DeliveryHistory>>,
}

impl Default for DeliveryLog {
    fn default() -> Self {
        Self::new(Self::DEFAULT_RECENT_CAPACITY)
    }
}

impl DeliveryLog {
    /// How many finished deliveries are kept by default: 10,000.
    pub const DEFAULT_RECENT_CAPACITY: usize = 10_000;

    /// A log keeping the `capacity` most recent finished deliveries.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity,
            history: Mutex::new(None),
        }
    }

    /// From now on, every finished delivery is also appended to `history` (replacing any
    /// earlier one, which is finished first).
    pub fn record_into(&self, history: DeliveryHistory) -> Result<(), EngineError> {
        let previous = self.history_slot().replace(history);
        match previous {
            Some(mut previous) => previous.finish(),
            None => Ok(()),
        }
    }

    /// Commits the deliveries recorded in history so far and stops recording them; reports
    /// the first write error. Call it after the sinks are closed (their last outcomes are
    /// recorded as they close).
    pub fn finish_history(&self) -> Result<(), EngineError> {
        let taken = self.history_slot().take();
        match taken {
            Some(mut history) => history.finish(),
            None => Ok(()),
        }
    }

    fn history_slot(&self) -> std::sync::MutexGuard<'_, Option<DeliveryHistory>> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record_history(&self, record: &DeliveryRecord) {
        if let Some(history) = self.history_slot().as_mut() {
            history.append(record);
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A sink queued an action.
    pub fn enqueued(&self) {
        self.with(|s| {
            s.counters.enqueued += 1;
            s.counters.queued += 1;
        });
    }

    /// A sink could not queue an action it counted [`enqueued`](Self::enqueued) (its queue
    /// was full, or it is closed): dead-lettered without an attempt, as `record` says.
    pub fn refused(&self, record: DeliveryRecord) {
        self.with(|s| {
            s.counters.queued = s.counters.queued.saturating_sub(1);
            s.counters.refused += 1;
            s.counters.dead_lettered += 1;
            self.record_history(&record);
            self.keep(s, record);
        });
    }

    /// A sink took a queued action to deliver it.
    pub fn started(&self) {
        self.with(|s| {
            s.counters.queued = s.counters.queued.saturating_sub(1);
            s.counters.in_flight += 1;
        });
    }

    /// A sink made one attempt (a call, or a call the breaker failed fast).
    pub fn attempted(&self) {
        self.with(|s| s.counters.attempts += 1);
    }

    /// A started delivery ended as `record` says.
    pub fn finished(&self, record: DeliveryRecord) {
        self.with(|s| {
            s.counters.in_flight = s.counters.in_flight.saturating_sub(1);
            match record.outcome {
                DeliveryOutcome::Delivered => s.counters.delivered += 1,
                DeliveryOutcome::DeadLettered => s.counters.dead_lettered += 1,
            }
            self.record_history(&record);
            self.keep(s, record);
        });
    }

    fn keep(&self, s: &mut State, record: DeliveryRecord) {
        if self.capacity == 0 {
            return;
        }
        if s.recent.len() == self.capacity {
            s.recent.pop_front();
        }
        s.recent.push_back(record);
    }

    /// The counters, all as of one moment.
    pub fn counters(&self) -> DeliveryCounters {
        self.with(|s| s.counters)
    }

    /// The most recent finished deliveries, oldest first.
    pub fn recent(&self) -> Vec<DeliveryRecord> {
        self.with(|s| s.recent.iter().cloned().collect())
    }
}

/// Now, in epoch milliseconds (what the records' timestamps use).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: DeliveryOutcome) -> DeliveryRecord {
        DeliveryRecord {
            action_id: "r:0".into(),
            rule: "r".into(),
            key: "1".into(),
            state: "FIRING".into(),
            sink: "webhook".into(),
            endpoint: "http://127.0.0.1:1/".into(),
            outcome,
            attempts: 1,
            http_status: None,
            latency_ms: 0,
            error: None,
            enqueued_at_ms: 0,
            finished_at_ms: 0,
        }
    }

    fn reconciles(c: DeliveryCounters) -> bool {
        c.enqueued == c.delivered + c.dead_lettered + c.queued + c.in_flight
    }

    #[test]
    fn counters_reconcile_at_every_step_and_recent_is_bounded() {
        let log = DeliveryLog::new(2);
        let steps: [&dyn Fn(&DeliveryLog); 7] = [
            &|l| l.enqueued(),
            &|l| l.enqueued(),
            &|l| l.started(),
            &|l| l.attempted(),
            &|l| l.finished(record(DeliveryOutcome::Delivered)),
            &|l| {
                l.enqueued();
                l.refused(record(DeliveryOutcome::DeadLettered));
            },
            &|l| {
                l.started();
                l.finished(record(DeliveryOutcome::DeadLettered));
            },
        ];
        for step in steps {
            step(&log);
            assert!(reconciles(log.counters()), "{:?}", log.counters());
        }
        let c = log.counters();
        assert_eq!(
            (
                c.enqueued,
                c.delivered,
                c.dead_lettered,
                c.refused,
                c.queued,
                c.in_flight,
                c.attempts
            ),
            (3, 1, 2, 1, 0, 0, 1)
        );
        let kept: Vec<_> = log.recent().into_iter().map(|r| r.outcome).collect();
        assert_eq!(kept, [DeliveryOutcome::DeadLettered, DeliveryOutcome::DeadLettered]);
        assert_eq!(DeliveryOutcome::DeadLettered.to_string(), "dead_lettered");
    }
}
