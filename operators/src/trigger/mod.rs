//! Triggers: alerting rules over projections, with dedup and a global rate limit.
//!
//! A [`TriggerRule`] is a predicate over the rows of a projection (one row per key — the
//! latest scored reading per sensor, a windowed count per `(sensor, window)`, …). The set of
//! `(rule, key)` for which it holds is maintained incrementally from the projection's
//! changes; entering the set emits a FIRING [`ActionEvent`], leaving it a RESOLVED one. A
//! [`TriggerPolicy`] decides which of those transitions are emitted and when (dedup window,
//! rate limit, bounded hold-back). Everything runs on event time, so a replay emits the same
//! actions as the live run.
//!
//! One file per idea: `rule` (what to watch), `policy` (dedup and rate limit), `operator`
//! (the dataflow), `action` (the rows produced).

mod action;
mod operator;
mod policy;
mod rule;

pub use action::{ActionEvent, ActionState, AlertRow, TriggerStats};
pub use operator::{TriggerOutputs, Triggers};
pub use policy::TriggerPolicy;
pub use rule::{Severity, TriggerRule};
