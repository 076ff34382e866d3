//! The rows a trigger produces: action events, the current alerts, and per-rule counters.
//!
//! Actions are an append-only log (each inserted once, never retracted) because the delivery
//! layer consumes them as a stream; `(rule, seq)` identifies an action and doubles as an
//! idempotency key. Alerts and stats are ordinary projections (rows retracted and re-inserted
//! as they change) so they can be queried like any other read model.

use serde::{Deserialize, Serialize};
use tributary_engine::EventTime;

/// Whether an action opens or closes an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionState {
    /// The rule started to hold for the key (serialised as `"FIRING"`).
    Firing,
    /// The rule stopped holding for the key, or its row was retracted (`"RESOLVED"`).
    Resolved,
}

/// One emitted action: inserted once, never retracted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActionEvent<K> {
    /// The rule's name.
    pub rule: String,
    /// The projection key the rule fired for.
    pub key: K,
    /// Firing or resolved.
    pub state: ActionState,
    /// Event time of the row change that caused the transition.
    pub at: EventTime,
    /// Per rule, 0, 1, 2, … in emission order: `(rule, seq)` is unique.
    pub seq: u64,
    /// How long the action waited: it counts as emitted at `at + held_back_ms` (see
    /// [`ActionEvent::emitted_at`]). Mostly the rate limit; but actions leave in order, so an
    /// action stamped earlier than one already emitted (a late row, or a retraction-only
    /// leave stamped with its old row's time) also waits for that one.
    pub held_back_ms: i64,
}

impl<K> ActionEvent<K> {
    /// The event time at which the rate limit let the action out.
    pub fn emitted_at(&self) -> EventTime {
        self.at.saturating_add(self.held_back_ms)
    }
}

/// A currently firing `(rule, key)`: its FIRING was emitted and its RESOLVED was not yet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertRow<K> {
    /// The rule's name.
    pub rule: String,
    /// The key.
    pub key: K,
    /// The `at` of the FIRING that opened the alert.
    pub since: EventTime,
    /// The greatest event time of a row change of the key while the rule held (at least `since`).
    pub last_change: EventTime,
}

/// Per-rule counters, one row per rule, updated at the end of every epoch that changes them.
///
/// Every transition is accounted exactly once when it is decided: it is emitted (`fired`,
/// `resolved`), `suppressed` by the dedup window, `dropped` because the hold-back queue was
/// full, or still waiting (`held_back - released`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TriggerStats {
    /// The rule's name.
    pub rule: String,
    /// FIRING actions emitted.
    pub fired: u64,
    /// RESOLVED actions emitted.
    pub resolved: u64,
    /// Transitions not emitted because of the dedup window: re-firings within the window and
    /// the RESOLVEDs that would have closed them.
    pub suppressed: u64,
    /// Actions the rate limit could not emit when they were decided (emitted later or waiting).
    pub held_back: u64,
    /// Held-back actions emitted since.
    pub released: u64,
    /// FIRINGs dropped because the hold-back queue was full, and the RESOLVEDs that would have
    /// closed them.
    pub dropped: u64,
}

impl TriggerStats {
    /// All counters zero.
    pub fn new(rule: impl Into<String>) -> Self {
        Self {
            rule: rule.into(),
            fired: 0,
            resolved: 0,
            suppressed: 0,
            held_back: 0,
            released: 0,
            dropped: 0,
        }
    }

    /// Actions held back and not released yet.
    pub fn waiting(&self) -> u64 {
        self.held_back.saturating_sub(self.released)
    }
}
