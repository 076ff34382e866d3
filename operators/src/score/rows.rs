//! The operator's output rows and its configuration.
//!
//! Rows carry plain `f64` fields because the lead exposes them through SQL projections
//! derived from serde: `OrderedFloat` would serialise the same, but plain floats keep the
//! public type obvious. Differential data must be `Ord`, so equality, order and hashing are
//! implemented by hand on the floats' *bit patterns* (`f64::total_cmp`, `f64::to_bits`):
//! two rows are equal exactly when every field is bit-identical, which is also what the
//! determinism guarantee promises.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use tributary_engine::EventTime;

/// Thresholds of `anomaly_scores`; both fields have serde defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnomalyConfig {
    /// A reading is an anomaly when `|score| > threshold`. Default `4.0`.
    pub threshold: f64,
    /// A reading is scored only when at least this many of its key's readings are strictly
    /// earlier in event time. Default `10`.
    pub min_count: u64,
    /// How long a reading waits before it is scored, in milliseconds: until the operator has
    /// seen an event time `settle_ms` past it (on any key of its worker), or — when the
    /// stream is quiet — for `settle_ms` of wall-clock time, or until the input ends.
    /// Readings that arrive up to `settle_ms` out of order are then scored in order, without
    /// the retract-and-rescore corrections an eager score needs (with all-history z, a
    /// reading k places late changes the k later scores). Only *when* a score appears
    /// depends on it, never *what* it is. Default `0`: score at once.
    pub settle_ms: i64,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            threshold: 4.0,
            min_count: 10,
            settle_ms: 0,
        }
    }
}

impl AnomalyConfig {
    /// Whether `score` is flagged: `|score| > threshold` (infinite scores are flagged, NaN is not).
    pub fn is_anomaly(&self, score: f64) -> bool {
        score.abs() > self.threshold
    }
}

/// One scored reading: the `scores` output of `anomaly_scores`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoreRow<K> {
    /// The reading's key (e.g. a sensor id).
    pub key: K,
    /// The reading's event time.
    pub ts: EventTime,
    /// The reading's value.
    pub value: f64,
    /// The model's expected value (the mean of the earlier readings for z-scores).
    pub mean: f64,
    /// The model's spread (the population standard deviation for z-scores).
    pub std: f64,
    /// The score, e.g. `(value − mean) / std`.
    pub score: f64,
    /// `|score| > threshold`.
    pub is_anomaly: bool,
}

/// The per-key `state` output of `anomaly_scores`: the key's latest scored reading.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnomalyState<K> {
    /// The key.
    pub key: K,
    /// Event time of the latest scored reading (ties on `ts`: the greater value).
    pub ts: EventTime,
    /// Its value.
    pub value: f64,
    /// Its mean.
    pub mean: f64,
    /// Its standard deviation.
    pub std: f64,
    /// Its score.
    pub score: f64,
    /// Whether it is flagged.
    pub is_anomaly: bool,
    /// How many of the key's score rows are flagged (with multiplicity).
    pub anomalies: u64,
    /// Event time of the key's latest flagged reading, if any: lets a trigger hold an alert
    /// for a span of event time after an anomaly ("anomalous within the last minute").
    pub last_anomaly_ts: Option<EventTime>,
}

/// Compares floats by their total order, so that `Eq` means bit-identical.
fn floats(a: &[f64], b: &[f64]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

macro_rules! bitwise_data {
    ($row:ident, [$($float:ident),*], [$($other:ident),*]) => {
        impl<K: Ord> Ord for $row<K> {
            fn cmp(&self, other: &Self) -> Ordering {
                (&self.key, self.ts)
                    .cmp(&(&other.key, other.ts))
                    .then_with(|| floats(&[$(self.$float),*], &[$(other.$float),*]))
                    $(.then_with(|| self.$other.cmp(&other.$other)))*
            }
        }

        impl<K: Ord> PartialOrd for $row<K> {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl<K: Ord> PartialEq for $row<K> {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other).is_eq()
            }
        }

        impl<K: Ord> Eq for $row<K> {}

        impl<K: Hash> Hash for $row<K> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.key.hash(state);
                self.ts.hash(state);
                $(self.$float.to_bits().hash(state);)*
                $(self.$other.hash(state);)*
            }
        }
    };
}

bitwise_data!(ScoreRow, [value, mean, std, score], [is_anomaly]);
bitwise_data!(
    AnomalyState,
    [value, mean, std, score],
    [is_anomaly, anomalies, last_anomaly_ts]
);

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: f64) -> ScoreRow<u8> {
        ScoreRow {
            key: 1,
            ts: 2,
            value,
            mean: 0.0,
            std: 1.0,
            score: value,
            is_anomaly: false,
        }
    }

    #[test]
    fn rows_are_equal_only_when_bit_identical() {
        assert_eq!(row(1.5), row(1.5));
        assert_ne!(row(0.0), row(-0.0));
        assert!(row(-1.0) < row(1.0));
        assert_eq!(row(f64::NAN), row(f64::NAN));
    }

    #[test]
    fn config_defaults_and_serde() {
        let c = AnomalyConfig::default();
        assert_eq!((c.threshold, c.min_count), (4.0, 10));
        assert!(c.is_anomaly(f64::INFINITY) && c.is_anomaly(-4.5) && !c.is_anomaly(4.0));
        assert!(!c.is_anomaly(f64::NAN));
    }
}
