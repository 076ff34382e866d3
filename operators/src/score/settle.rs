//! The settle buffer in front of `anomaly_scores`: readings wait a little before they are
//! scored, so that moderately out-of-order readings are scored in order.
//!
//! An eager score is exact but expensive under disorder: with all-history z, a reading that
//! arrives k places late changes the scores of the k readings after it, and each of those is
//! retracted and re-inserted downstream. Sensor streams are routinely a second or two out of
//! order, so at 100 readings/s per key that is hundreds of output updates per reading.
//! Holding each reading until the worker has seen event time `settle_ms` past it (or, when
//! the stream is quiet, for `settle_ms` of wall-clock time, or until the input ends) lets
//! the history absorb the stragglers first. The scores are the same — the history is a
//! function of the set of readings — only their arrival is later. Readings later than the
//! settle span are still corrected as usual.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use tributary_engine::EventTime;

use super::history::Reading;

/// Updates grouped by key, as the operator applies them.
pub(crate) type ByKey<K> = HashMap<K, Vec<(Reading, isize)>>;

/// Readings (and retractions) waiting to be scored, on one worker.
pub(crate) struct SettleBuffer<K> {
    settle_ms: i64,
    /// The greatest event time this worker has seen.
    max_seen: Option<EventTime>,
    /// Waiting updates by event time.
    waiting: BTreeMap<EventTime, Vec<(K, Reading, isize)>>,
    /// When batches started waiting, with the greatest event time among them: the
    /// wall-clock release for quiet streams.
    arrivals: VecDeque<(Instant, EventTime)>,
}

impl<K: Eq + Hash + Clone> SettleBuffer<K> {
    pub(crate) fn new(settle_ms: i64) -> Self {
        Self {
            settle_ms,
            max_seen: None,
            waiting: BTreeMap::new(),
            arrivals: VecDeque::new(),
        }
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Takes one epoch's updates and returns those ready to be scored: the batch's own
    /// updates at or before the new horizon, plus waiting ones the batch's event times
    /// released.
    pub(crate) fn admit(&mut self, batch: ByKey<K>, now: Instant) -> ByKey<K> {
        if self.settle_ms <= 0 {
            return batch;
        }
        let newest = batch.values().flatten().map(|((ts, _), _)| *ts).max();
        self.max_seen = self.max_seen.max(newest);
        let horizon = self
            .max_seen
            .map_or(EventTime::MIN, |m| m.saturating_sub(self.settle_ms));
        let mut ready = self.release_until(horizon);
        let mut latest_waiting = None;
        for (key, updates) in batch {
            let (now_ready, later): (Vec<_>, Vec<_>) = updates.into_iter().partition(|((ts, _), _)| *ts <= horizon);
            for (reading, diff) in later {
                latest_waiting = latest_waiting.max(Some(reading.0));
                self.waiting
                    .entry(reading.0)
                    .or_default()
                    .push((key.clone(), reading, diff));
            }
            if !now_ready.is_empty() {
                ready.entry(key).or_default().extend(now_ready);
            }
        }
        if let Some(ts) = latest_waiting {
            self.arrivals.push_back((now, ts));
        }
        ready
    }

    /// Releases what has waited `settle_ms` of wall-clock time, or everything once the
    /// input has ended.
    pub(crate) fn release_due(&mut self, now: Instant, input_ended: bool) -> ByKey<K> {
        if input_ended {
            self.arrivals.clear();
            return self.release_until(EventTime::MAX);
        }
        let span = Duration::from_millis(u64::try_from(self.settle_ms).unwrap_or(0));
        let mut due = None;
        while let Some(&(since, ts)) = self.arrivals.front() {
            if now.duration_since(since) < span {
                break;
            }
            due = due.max(Some(ts));
            self.arrivals.pop_front();
        }
        due.map_or_else(HashMap::new, |ts| self.release_until(ts))
    }

    fn release_until(&mut self, horizon: EventTime) -> ByKey<K> {
        let mut ready: ByKey<K> = HashMap::new();
        let later = match horizon.checked_add(1) {
            Some(after) => self.waiting.split_off(&after),
            None => BTreeMap::new(),
        };
        for (key, reading, diff) in std::mem::replace(&mut self.waiting, later).into_values().flatten() {
            ready.entry(key).or_default().push((reading, diff));
        }
        ready
    }
}
