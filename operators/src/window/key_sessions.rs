//! One key's sessions: its events, and the incremental re-assignment of the sessions around
//! a change (the algorithm behind [`SessionWindows`](super::SessionWindows)).
//!
//! The neighbourhood of a change is found in the *union* of the old and the new events: every
//! session that contained, or was within the gap of, a changed event time before or after the
//! change lies in a connected component of that union around it, and sessions outside those
//! components are unchanged. So the old assignments there are subtracted, the updates applied,
//! the new assignments added, and only the non-zero differences emitted.

use std::collections::BTreeMap;
use std::ops::Bound;

use tributary_engine::EventTime;

use super::spec::Window;

/// One key's events: event time → multiset of values.
pub(super) struct KeyEvents<V> {
    pub(super) events: BTreeMap<EventTime, BTreeMap<V, isize>>,
    /// The end of the first session, as indexed for compaction.
    pub(super) closing: Option<EventTime>,
}

impl<V> Default for KeyEvents<V> {
    fn default() -> Self {
        Self {
            events: BTreeMap::new(),
            closing: None,
        }
    }
}

/// Whether `b` (≥ `a`) is close enough to `a` to share its session.
fn joined(a: EventTime, b: EventTime, gap: i64) -> bool {
    i128::from(b) - i128::from(a) < i128::from(gap)
}

fn session_end(last: EventTime, gap: i64) -> EventTime {
    last.saturating_add(gap)
}

fn present<V>(values: &BTreeMap<V, isize>) -> bool {
    values.values().any(|n| *n > 0)
}

impl<V: Ord + Clone> KeyEvents<V> {
    /// Applies one epoch's updates and reports every changed assignment through `emit`;
    /// returns the lowest event time whose session may have changed.
    pub(super) fn apply<'v>(
        &mut self,
        updates: impl Iterator<Item = (EventTime, &'v V, isize)> + Clone,
        gap: i64,
        mut emit: impl FnMut(Window, EventTime, &V, isize),
    ) -> Option<EventTime>
    where
        V: 'v,
    {
        // Placeholders for new event times, so the neighbourhood is found in the union of the
        // old and the new events (a bridging insertion and a splitting retraction alike).
        let mut times: Vec<EventTime> = updates.clone().map(|(ts, _, _)| ts).collect();
        times.sort_unstable();
        times.dedup();
        for ts in &times {
            self.events.entry(*ts).or_default();
        }
        let mut ranges: Vec<(EventTime, EventTime)> = Vec::new();
        for ts in times {
            if ranges.last().is_some_and(|(_, hi)| ts <= *hi) {
                continue;
            }
            ranges.push((self.walk_left(ts, gap), self.walk_right(ts, gap)));
        }
        let mut changes: BTreeMap<(Window, EventTime, V), isize> = BTreeMap::new();
        for (lo, hi) in &ranges {
            self.sessions(*lo, *hi, gap, |w, ts, v, n| {
                *changes.entry((w, ts, v.clone())).or_insert(0) -= n
            });
        }
        for (ts, v, r) in updates {
            let values = self.events.entry(ts).or_default();
            let n = values.entry(v.clone()).or_insert(0);
            *n += r;
            if *n == 0 {
                values.remove(v);
            }
        }
        for (lo, hi) in &ranges {
            self.sessions(*lo, *hi, gap, |w, ts, v, n| {
                *changes.entry((w, ts, v.clone())).or_insert(0) += n
            });
            let empty: Vec<EventTime> = self
                .events
                .range(lo..=hi)
                .filter(|(_, values)| values.is_empty())
                .map(|(ts, _)| *ts)
                .collect();
            for ts in empty {
                self.events.remove(&ts);
            }
        }
        for ((w, ts, v), n) in changes {
            if n != 0 {
                emit(w, ts, &v, n);
            }
        }
        ranges.first().map(|(lo, _)| *lo)
    }

    fn walk_left(&self, from: EventTime, gap: i64) -> EventTime {
        let mut at = from;
        while let Some((prev, _)) = self.events.range(..at).next_back() {
            if !joined(*prev, at, gap) {
                break;
            }
            at = *prev;
        }
        at
    }

    fn walk_right(&self, from: EventTime, gap: i64) -> EventTime {
        let mut at = from;
        while let Some((next, _)) = self.events.range((Bound::Excluded(at), Bound::Unbounded)).next() {
            if !joined(at, *next, gap) {
                break;
            }
            at = *next;
        }
        at
    }

    /// Calls `emit(window, ts, value, multiplicity)` for every present event in `lo..=hi`,
    /// which must be a union of whole sessions.
    fn sessions(&self, lo: EventTime, hi: EventTime, gap: i64, mut emit: impl FnMut(Window, EventTime, &V, isize)) {
        let mut bounds: Vec<(EventTime, EventTime)> = Vec::new();
        for (ts, _) in self.events.range(lo..=hi).filter(|(_, values)| present(values)) {
            match bounds.last_mut() {
                Some((_, last)) if joined(*last, *ts, gap) => *last = *ts,
                _ => bounds.push((*ts, *ts)),
            }
        }
        for (first, last) in bounds {
            let window = Window {
                start: first,
                end: session_end(last, gap),
            };
            for (ts, values) in self.events.range(first..=last) {
                for (v, n) in values.iter().filter(|(_, n)| **n > 0) {
                    emit(window, *ts, v, *n);
                }
            }
        }
    }

    /// The first present session: its first and last event times.
    fn first_session(&self, gap: i64) -> Option<(EventTime, EventTime)> {
        let mut present_events = self
            .events
            .iter()
            .filter(|(_, values)| present(values))
            .map(|(ts, _)| *ts);
        let first = present_events.next()?;
        let mut last = first;
        for ts in present_events {
            if !joined(last, ts, gap) {
                break;
            }
            last = ts;
        }
        Some((first, last))
    }

    pub(super) fn first_session_end(&self, gap: i64) -> Option<EventTime> {
        self.first_session(gap).map(|(_, last)| session_end(last, gap))
    }

    /// Drops the first session's events (and anything before them); returns how many
    /// event times were dropped.
    pub(super) fn release_first_session(&mut self, gap: i64) -> usize {
        let Some((_, last)) = self.first_session(gap) else {
            return 0;
        };
        let before = self.events.len();
        while self.events.first_key_value().is_some_and(|(ts, _)| *ts <= last) {
            self.events.pop_first();
        }
        before - self.events.len()
    }
}
