//! Logical time, event time and watermarks.
//!
//! Tributary separates two clocks:
//!
//! * **Logical time** ([`Epoch`]) is timely's timestamp. Every worker groups the records it
//!   ingests into coarse epochs (a few milliseconds or a few thousand records each) because
//!   differential's cost grows with the number of distinct timestamps. The frontier of the
//!   projections is an epoch: a query answered `as_of = e` reflects every record ingested in
//!   epochs `< e`. Ingest tickets are epochs too.
//! * **Event time** ([`EventTime`], milliseconds since the Unix epoch) is data: a column of
//!   the record. Operators that care about it (`last`, windows, scores) read it from the
//!   record, so out-of-order arrival never changes a result — only when it becomes visible.
//!
//! The [`Watermark`] tracks `max event time seen − allowed_lateness` for a stream.

use serde::{Deserialize, Serialize};

/// Timely's timestamp in every Tributary dataflow: a coarse ingest epoch.
pub type Epoch = u64;

/// Event time in milliseconds since the Unix epoch (UTC).
pub type EventTime = i64;

/// `max event time seen − allowed_lateness`, per stream.
///
/// Records whose event time is below the watermark are *late*; what happens to them (applied
/// as a correction or dead-lettered) is the stream's choice, made by the operators that
/// consult the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    allowed_lateness_ms: i64,
    max_seen: Option<EventTime>,
}

impl Watermark {
    /// A watermark that tolerates events up to `allowed_lateness_ms` behind the newest one.
    pub fn new(allowed_lateness_ms: i64) -> Self {
        Self {
            allowed_lateness_ms: allowed_lateness_ms.max(0),
            max_seen: None,
        }
    }

    /// Records that an event with this event time was seen.
    pub fn observe(&mut self, ts: EventTime) {
        self.max_seen = Some(self.max_seen.map_or(ts, |m| m.max(ts)));
    }

    /// The current watermark, or `None` before the first event.
    pub fn current(&self) -> Option<EventTime> {
        self.max_seen.map(|m| m.saturating_sub(self.allowed_lateness_ms))
    }

    /// The newest event time seen so far.
    pub fn max_seen(&self) -> Option<EventTime> {
        self.max_seen
    }

    /// Whether an event with this event time is behind the watermark.
    pub fn is_late(&self, ts: EventTime) -> bool {
        self.current().is_some_and(|w| ts < w)
    }

    /// Combines two watermarks of the same stream seen by different workers: the stream's
    /// watermark is governed by the newest event any worker saw.
    pub fn merge(&mut self, other: &Watermark) {
        if let Some(m) = other.max_seen {
            self.observe(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermark_trails_max_by_lateness() {
        let mut w = Watermark::new(1_000);
        assert_eq!(w.current(), None);
        assert!(!w.is_late(0));
        w.observe(10_000);
        w.observe(5_000);
        assert_eq!(w.current(), Some(9_000));
        assert!(w.is_late(8_999));
        assert!(!w.is_late(9_000));
        let mut other = Watermark::new(1_000);
        other.observe(20_000);
        w.merge(&other);
        assert_eq!(w.max_seen(), Some(20_000));
    }

    #[test]
    fn negative_lateness_is_clamped() {
        let mut w = Watermark::new(-5);
        w.observe(7);
        assert_eq!(w.current(), Some(7));
    }
}
