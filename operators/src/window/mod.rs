//! Event-time windows and lateness.
//!
//! Event time travels with the value, as in `last_per_key`: the input of every window
//! operator is a collection of `(key, (event_time, value))`. Window assignment only re-keys
//! each record by `(key, window)`, so every keyed operator of this crate (`count_per_key`,
//! `aggregate_per_key`, `stats_per_key`, `last_per_key`, ...) then computes one row per
//! `(key, window)` without knowing about windows at all, and retractions flow through
//! unchanged: retracting a record retracts it from every window it was assigned to.
//!
//! * [`Windowed::windowed`] — tumbling and hopping windows ([`WindowSpec`]), aligned to the
//!   Unix epoch. A record's windows depend only on its own event time, so the assignment is a
//!   stateless `flat_map`.
//! * [`SessionWindows::session_windows`] — gap-based sessions. A record's session depends on
//!   its key's other events, so a custom operator keeps each key's events and re-assigns the
//!   neighbourhood of every change (see [`session`](self::session)).
//! * [`SplitLate::split_late`] — the watermark and what happens to records behind it
//!   ([`LatenessPolicy`]): applied as corrections, or split off as data to be dead-lettered.
//!
//! # Why windows are not closed by default
//!
//! Differential dataflow keeps every window's result correct under any arrival order: a late
//! record simply updates its window's result at the epoch where it arrives. Closing windows is
//! therefore a *policy* ([`LatePolicy::DeadLetter`]), not a requirement for correctness, and
//! the state it releases is what the watermark proves unreachable: the lateness operator keeps
//! only undecided epochs, and [`SessionWindows::session_windows_compacted`] drops every
//! session the watermark has passed by more than the gap.

mod assign;
mod lateness;
mod session;
mod spec;
mod state;

pub use assign::Windowed;
pub use lateness::{LatePolicy, LateSplit, LatenessPolicy, SplitLate};
pub use session::{CompactedSessions, SessionWindows};
pub use spec::{Window, WindowError, WindowSpec, Windows};
pub use state::StateSize;
