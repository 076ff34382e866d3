//! Source health: readers report whether they are connected to their broker and how far
//! behind they are; the query side reads it for `/readyz`, `/metrics` and `system.sources`.
//!
//! Every reader gets a [`SourceLink`] when its stream is declared (one per stream and
//! worker) and reports through [`SourceOutput`](super::SourceOutput) while it polls, so a
//! reader needs no handle of its own and a source without a connection (the generator,
//! HTTP-only) simply never reports: its state stays [`Connectivity::Unknown`], which does
//! not make the pipeline unready.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::StreamCounters;

/// What a reader last said about its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connectivity {
    /// The reader never reported (a source without a connection).
    Unknown,
    /// Connected to its broker (and, for MQTT, subscribed).
    Connected,
    /// Not connected; the reader keeps trying.
    Disconnected,
}

impl Connectivity {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Connected,
            2 => Self::Disconnected,
            _ => Self::Unknown,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::Connected => 1,
            Self::Disconnected => 2,
        }
    }

    /// Several workers' states as one: disconnected if any is, connected if any is.
    fn merge(self, other: Self) -> Self {
        match (self, other) {
            (Self::Disconnected, _) | (_, Self::Disconnected) => Self::Disconnected,
            (Self::Connected, _) | (_, Self::Connected) => Self::Connected,
            _ => Self::Unknown,
        }
    }
}

/// One worker's reader of one stream: where it reports connectivity and lag.
#[derive(Debug)]
pub struct SourceLink {
    state: AtomicU8,
    /// Records the reader is behind its source (e.g. Kafka consumer lag); `-1`: not reported.
    lag: AtomicI64,
}

impl Default for SourceLink {
    fn default() -> Self {
        Self {
            state: AtomicU8::new(Connectivity::Unknown.as_u8()),
            lag: AtomicI64::new(-1),
        }
    }
}

impl SourceLink {
    /// Records the reader's connection state.
    pub fn report_connected(&self, connected: bool) {
        let state = if connected {
            Connectivity::Connected
        } else {
            Connectivity::Disconnected
        };
        self.state.store(state.as_u8(), Ordering::Relaxed);
    }

    /// Records how many records the reader is behind its source.
    pub fn report_lag(&self, lag: u64) {
        self.lag
            .store(i64::try_from(lag).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// The last reported state.
    pub fn connectivity(&self) -> Connectivity {
        Connectivity::from_u8(self.state.load(Ordering::Relaxed))
    }

    fn lag(&self) -> Option<u64> {
        u64::try_from(self.lag.load(Ordering::Relaxed)).ok()
    }
}

/// The health of one stream's source, summed over workers.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceHealth {
    /// The stream the source feeds.
    pub stream: String,
    /// The source's description ([`Source::describe`](super::Source::describe)).
    pub source: String,
    /// Merged over workers: disconnected if any worker's reader is.
    pub connectivity: Connectivity,
    /// Records received so far.
    pub received: u64,
    /// Records received per second since the previous snapshot (or since the start).
    pub rate_per_s: f64,
    /// Sum of the reported lags; `None` if no reader reported one.
    pub lag: Option<u64>,
}

struct Entry {
    source: String,
    counters: Arc<StreamCounters>,
    links: Vec<Arc<SourceLink>>,
    /// `(when, received)` at the previous rate sample, and the rate it gave.
    sample: Mutex<(Instant, u64, f64)>,
}

/// The readers of every stream (see the module docs).
#[derive(Default)]
pub struct SourceHealthRegistry {
    streams: Mutex<BTreeMap<String, Entry>>,
}

impl std::fmt::Debug for SourceHealthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceHealthRegistry")
            .field(
                "streams",
                &self.streams.lock().unwrap_or_else(PoisonError::into_inner).len(),
            )
            .finish()
    }
}

/// A rate is recomputed once at least this much time passed since the previous sample, so
/// two scrapes in quick succession do not show a noisy rate.
const MIN_RATE_WINDOW_S: f64 = 1.0;

impl SourceHealthRegistry {
    /// A new link for one worker's reader of `stream`.
    pub fn register(&self, stream: &str, source: String, counters: Arc<StreamCounters>) -> Arc<SourceLink> {
        let link = Arc::new(SourceLink::default());
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        streams
            .entry(stream.to_string())
            .or_insert_with(|| Entry {
                source,
                counters,
                links: Vec::new(),
                sample: Mutex::new((Instant::now(), 0, 0.0)),
            })
            .links
            .push(link.clone());
        link
    }

    /// Every stream's source health, by stream name.
    pub fn snapshot(&self) -> Vec<SourceHealth> {
        let streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        streams
            .iter()
            .map(|(stream, entry)| {
                let received = entry.counters.snapshot().received;
                let rate_per_s = {
                    let mut sample = entry.sample.lock().unwrap_or_else(PoisonError::into_inner);
                    let elapsed = now.duration_since(sample.0).as_secs_f64();
                    if elapsed >= MIN_RATE_WINDOW_S {
                        let delta = received.saturating_sub(sample.1);
                        // Precision loss only past 2^53 records per window.
                        #[allow(clippy::cast_precision_loss)]
                        let rate = delta as f64 / elapsed;
                        *sample = (now, received, rate);
                    }
                    sample.2
                };
                let lags: Vec<u64> = entry.links.iter().filter_map(|l| l.lag()).collect();
                SourceHealth {
                    stream: stream.clone(),
                    source: entry.source.clone(),
                    connectivity: entry
                        .links
                        .iter()
                        .fold(Connectivity::Unknown, |acc, l| acc.merge(l.connectivity())),
                    received,
                    rate_per_s,
                    lag: (!lags.is_empty()).then(|| lags.iter().sum()),
                }
            })
            .collect()
    }

    /// Whether no reader reports being disconnected.
    pub fn all_connected(&self) -> bool {
        self.snapshot()
            .iter()
            .all(|s| s.connectivity != Connectivity::Disconnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_disconnected_worker_makes_the_stream_disconnected_and_silent_readers_are_unknown() {
        let registry = SourceHealthRegistry::default();
        let counters = Arc::new(StreamCounters::default());
        let a = registry.register("readings", "mqtt(x)".into(), counters.clone());
        let b = registry.register("readings", "mqtt(x)".into(), counters);
        let quiet = registry.register("clicks", "generator".into(), Arc::new(StreamCounters::default()));
        assert!(registry.all_connected());
        a.report_connected(true);
        b.report_connected(true);
        assert!(registry.all_connected());
        b.report_connected(false);
        assert!(!registry.all_connected());
        let snapshot = registry.snapshot();
        assert_eq!(snapshot[0].stream, "clicks");
        assert_eq!(snapshot[0].connectivity, Connectivity::Unknown);
        assert_eq!(snapshot[0].lag, None);
        assert_eq!(snapshot[1].connectivity, Connectivity::Disconnected);
        a.report_lag(5);
        b.report_lag(7);
        assert_eq!(registry.snapshot()[1].lag, Some(12));
        b.report_connected(true);
        assert!(registry.all_connected());
        assert_eq!(quiet.connectivity(), Connectivity::Unknown);
    }
}
