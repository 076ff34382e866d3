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
//! therefore a *policy* ([`LatePolicy::DeadLetter`]), not a requirement for correctness.
//!
//! # State, and what the watermark releases
//!
//! * `split_late` keeps, per worker, the records of epochs not yet judged and the broadcast
//!   maxima not yet folded into the running maximum: both are released as soon as an epoch is
//!   decided, so between epochs it holds nothing but one maximum.
//! * `session_windows` keeps every present event of every key (event time → multiset of
//!   values). Under `DeadLetter`, [`SessionWindows::session_windows_compacted`] releases each
//!   session whose end (`last event + gap`) is at or behind the watermark: no record that gets
//!   past the lateness split can reach it any more. The emitted assignments stay.
//! * `windowed` keeps nothing; the per-`(key, window)` state lives in the keyed operator
//!   downstream. For the difference-carried aggregates (`count_per_key`, `aggregate_per_key`)
//!   that is one consolidated row per key and window, whatever the number of records; the
//!   hierarchical ones (`min`, `max`, `last`, `stats`) keep the window's values. Those rows
//!   are results, not buffers, so nothing drops them when the watermark passes their window:
//!   a projection still answers for closed windows. Retiring old windows from a projection is
//!   a retention decision left to the projection.

mod assign;
mod key_sessions;
mod lateness;
mod session;
mod spec;
mod state;

pub use assign::Windowed;
pub use lateness::{LatePolicy, LateSplit, LatenessPolicy, SplitLate};
pub use session::{CompactedSessions, SessionWindows};
pub use spec::{Window, WindowError, WindowSpec, Windows};
pub use state::StateSize;
