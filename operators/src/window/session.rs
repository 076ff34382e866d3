//! `session_windows`: gap-based sessions per key, maintained incrementally.
//!
//! A session is a maximal run of a key's events in which consecutive event times are
//! **strictly less than `gap` apart**; its window is `[first, last + gap)`. Equivalently, each
//! event covers `[ts, ts + gap)` and a session is a connected union of those half-open
//! intervals, so an event at exactly `last + gap` starts a new session.
//!
//! Unlike fixed windows, a record's session depends on its key's other events: a late event
//! that bridges two sessions merges them, a retraction can split one, and an event that
//! extends a session changes the window of every event in it. A `reduce` would re-read the
//! key's whole history on each change, so a custom timely operator exchanges records by key
//! and keeps, per key, a `BTreeMap<event time, multiset of values>`. When an epoch completes
//! it takes each changed key's updates, finds the *neighbourhood* they can affect — the
//! connected components around the changed event times in the union of old and new events —
//! recomputes only the sessions there, and emits the difference (retract old assignments,
//! insert new ones) at that epoch. Sessions whose assignments do not change emit nothing.
//!
//! Cost per epoch and changed key: O((u + s) · log n) for u updates, s events in the affected
//! sessions and n events of the key. Re-tagging a session's s events when it grows is inherent
//! to the output shape (every event carries its session's window).
//!
//! State: every present event of every key, on the worker owning the key. With a watermark
//! from a [`LatePolicy::DeadLetter`](super::LatePolicy) split,
//! [`session_windows_compacted`](SessionWindows::session_windows_compacted) drops each session
//! whose window end `last + gap` is at or behind the watermark: every later record has an
//! event time at or past the watermark, so none can join, extend or split that session, and
//! its emitted assignments stay valid forever. An index of each key's first session's end
//! finds them without scanning all keys.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;

use differential_dataflow::hashable::Hashable;
use differential_dataflow::{AsCollection, ExchangeData};
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::operator::{Operator, empty};
use timely::dataflow::operators::vec::Broadcast;
use tributary_engine::{Collection, Epoch, EventTime};

use super::key_sessions::KeyEvents;
use super::spec::Window;
use super::state::{Pending, StateSize, bound};

/// Assigns keyed, event-timed records to their key's sessions.
pub trait SessionWindows<'scope, K, V> {
    /// Re-keys every `(key, (ts, value))` as `((key, session window), (ts, value))`, with
    /// sessions split where consecutive event times are `gap_ms` or more apart (see the
    /// module docs). A gap below 1 ms is raised to 1 ms (only equal times share a session).
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{CountPerKey, SessionWindows, Window};
    ///
    /// timely::example(|scope| {
    ///     // gap 10: 0 and 9 share a session, 19 is 10 after 9 and starts a new one
    ///     scope.new_collection_from(vec![(1i64, (0i64, 'a')), (1, (9, 'b')), (1, (19, 'c'))]).1
    ///         .session_windows(10)
    ///         .count_per_key()
    ///         .inspect(|(((_, w), n), _, _)| assert_eq!(
    ///             (w, *n),
    ///             if w.start == 0 { (&Window { start: 0, end: 19 }, 2) } else { (&Window { start: 19, end: 29 }, 1) }
    ///         ));
    /// });
    /// ```
    fn session_windows(self, gap_ms: i64) -> Collection<'scope, ((K, Window), (EventTime, V))>;

    /// As [`session_windows`](Self::session_windows), releasing the events of sessions the
    /// watermark has closed. `watermark` must be the watermark of the
    /// [`LatePolicy::DeadLetter`](super::LatePolicy) split this collection is the `ok` output
    /// of (see [`SplitLate`](super::SplitLate)): only then are records behind it guaranteed
    /// never to arrive. A record that arrives behind it anyway is applied to the events still
    /// held, so its assignment ignores released sessions.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{LatePolicy, LatenessPolicy, SessionWindows, SplitLate};
    ///
    /// timely::example(|scope| {
    ///     let policy = LatenessPolicy { on_late: LatePolicy::DeadLetter, ..LatenessPolicy::default() };
    ///     let split = scope.new_collection_from(vec![(1i64, (0i64, 'a'))]).1
    ///         .split_late(&policy, |(_, (ts, _))| *ts);
    ///     let sessions = split.ok.session_windows_compacted(10, split.watermark);
    ///     sessions.windows.inspect(|x| println!("{x:?}"));
    ///     let _events_held = sessions.state; // a gauge: `.get()` after the dataflow has run
    /// });
    /// ```
    fn session_windows_compacted(
        self,
        gap_ms: i64,
        watermark: Collection<'scope, EventTime>,
    ) -> CompactedSessions<'scope, K, V>;
}

/// The output of [`SessionWindows::session_windows_compacted`].
pub struct CompactedSessions<'scope, K: 'static, V: 'static> {
    /// `((key, session window), (ts, value))`, as from `session_windows`.
    pub windows: Collection<'scope, ((K, Window), (EventTime, V))>,
    /// The number of distinct `(key, event time)` entries held on this worker.
    pub state: StateSize,
}

impl<K: 'static, V: 'static> std::fmt::Debug for CompactedSessions<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactedSessions")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<'scope, K, V> SessionWindows<'scope, K, V> for Collection<'scope, (K, (EventTime, V))>
where
    K: ExchangeData + Hash,
    V: ExchangeData,
{
    fn session_windows(self, gap_ms: i64) -> Collection<'scope, ((K, Window), (EventTime, V))> {
        let none = empty(self.inner.scope());
        sessions(self, gap_ms, none, false, StateSize::default())
    }

    fn session_windows_compacted(
        self,
        gap_ms: i64,
        watermark: Collection<'scope, EventTime>,
    ) -> CompactedSessions<'scope, K, V> {
        let state = StateSize::default();
        let windows = sessions(self, gap_ms, watermark.inner.broadcast(), true, state.clone());
        CompactedSessions { windows, state }
    }
}

type Marks<'scope> = timely::dataflow::StreamVec<'scope, Epoch, (EventTime, Epoch, isize)>;

fn sessions<'scope, K, V>(
    input: Collection<'scope, (K, (EventTime, V))>,
    gap_ms: i64,
    watermarks: Marks<'scope>,
    compact: bool,
    state_size: StateSize,
) -> Collection<'scope, ((K, Window), (EventTime, V))>
where
    K: ExchangeData + Hash,
    V: ExchangeData,
{
    let gap = gap_ms.max(1);
    let by_key = Exchange::new(|((k, _), _, _): &((K, (EventTime, V)), Epoch, isize)| k.hashed());
    input
        .inner
        .binary_frontier(watermarks, by_key, Pipeline, "SessionWindows", move |_, _| {
            let mut pending: Pending<(K, EventTime, V, isize)> = BTreeMap::new();
            let mut marks: BTreeMap<Epoch, Vec<(EventTime, isize)>> = BTreeMap::new();
            let mut watermark = Accumulated::default();
            let mut keys: HashMap<K, KeyEvents<V>> = HashMap::new();
            // (end of the key's first session, key): the next sessions the watermark closes.
            let mut closing: BTreeSet<(EventTime, K)> = BTreeSet::new();
            let mut held = 0usize;
            move |(records, records_frontier), (marks_in, marks_frontier), output| {
                records.for_each(|cap, data| {
                    for ((k, (ts, v)), t, r) in data.drain(..) {
                        let slot = pending.entry(t).or_insert_with(|| (cap.delayed(&t, 0), Vec::new()));
                        slot.1.push((k, ts, v, r));
                    }
                });
                marks_in.for_each(|_, data| {
                    for (w, t, r) in data.drain(..) {
                        marks.entry(t).or_default().push((w, r));
                    }
                });
                let done_records = bound(records_frontier);
                let done_marks = bound(marks_frontier);
                while let Some(entry) = pending.first_entry() {
                    let epoch = *entry.key();
                    if epoch >= done_records {
                        break;
                    }
                    let (cap, mut updates) = entry.remove();
                    updates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    let mut session = output.session(&cap);
                    for group in updates.chunk_by(|a, b| a.0 == b.0) {
                        let key = &group[0].0;
                        let events = keys.entry(key.clone()).or_default();
                        let before = events.events.len();
                        let lowest =
                            events.apply(group.iter().map(|(_, ts, v, r)| (*ts, v, *r)), gap, |w, ts, v, n| {
                                session.give((((key.clone(), w), (ts, v.clone())), epoch, n));
                            });
                        held = held + events.events.len() - before;
                        if compact && lowest.is_some_and(|lo| events.closing.is_none_or(|c| lo < c)) {
                            let old = events.closing;
                            events.closing = events.first_session_end(gap);
                            reindex(&mut closing, key, old, events.closing);
                        }
                        if events.events.is_empty() {
                            reindex(&mut closing, key, events.closing, None);
                            keys.remove(key);
                        }
                    }
                }
                // The watermark of epoch `t` bounds the event times of every record at `t` or
                // later, so it may compact as soon as all records before `t` are processed.
                // Records never wait for it: it only decides what may be released.
                if done_marks > 0 {
                    watermark.fold_through(&mut marks, (done_marks - 1).min(done_records));
                }
                if compact && let Some(w) = watermark.current() {
                    while let Some((end, key)) = closing.first().cloned() {
                        if end > w {
                            break;
                        }
                        closing.pop_first();
                        if let Entry::Occupied(mut slot) = keys.entry(key.clone()) {
                            let events = slot.get_mut();
                            held -= events.release_first_session(gap);
                            events.closing = events.first_session_end(gap);
                            reindex(&mut closing, &key, None, events.closing);
                            if slot.get().events.is_empty() {
                                slot.remove();
                            }
                        }
                    }
                }
                state_size.set(held);
            }
        })
        .as_collection()
}

fn reindex<K: Ord + Clone>(
    index: &mut BTreeSet<(EventTime, K)>,
    key: &K,
    old: Option<EventTime>,
    new: Option<EventTime>,
) {
    if let Some(old) = old {
        index.remove(&(old, key.clone()));
    }
    if let Some(new) = new {
        index.insert((new, key.clone()));
    }
}

/// The watermark as accumulated from its collection's updates.
#[derive(Default)]
struct Accumulated {
    values: BTreeMap<EventTime, isize>,
}

impl Accumulated {
    /// Folds in every update at an epoch `<= epoch`.
    fn fold_through(&mut self, marks: &mut BTreeMap<Epoch, Vec<(EventTime, isize)>>, epoch: Epoch) {
        while let Some(entry) = marks.first_entry() {
            if *entry.key() > epoch {
                break;
            }
            for (w, r) in entry.remove() {
                let n = self.values.entry(w).or_insert(0);
                *n += r;
                if *n == 0 {
                    self.values.remove(&w);
                }
            }
        }
    }

    fn current(&self) -> Option<EventTime> {
        self.values.iter().rev().find(|(_, n)| **n > 0).map(|(w, _)| *w)
    }
}
