//! The IoT pipeline: sensor readings → per-sensor statistics, anomaly scores and alerts.
//!
//! Input stream `readings(sensor_id BIGINT, ts TIMESTAMP(ms), value DOUBLE)`. Projections:
//!
//! * `sensor_stats(sensor_id, count, sum, min, max, avg, last_value, last_ts)`, where `last_*`
//!   is the reading with the greatest event time (ties: the greater value);
//! * `anomaly_state(sensor_id, ts, value, mean, std, score, is_anomaly, anomalies,
//!   last_anomaly_ts)`: each
//!   sensor's latest scored reading, `z = (value − mean) / std` over the sensor's readings
//!   strictly earlier in event time (population σ), scored once 10 earlier readings exist and
//!   flagged when `|z| > 4`; `anomalies` counts the sensor's flagged readings so far;
//! * `anomalies(sensor_id, ts, value, mean, std, score)`: every flagged reading;
//! * `alerts(rule, sensor_id, since, last_change)`: the sensors with an anomaly within their
//!   last 10 s of readings (event time), and `actions(rule, sensor_id, state, at, seq, held_back_ms)`: the FIRING /
//!   RESOLVED log, deduplicated within 5 minutes and limited to 10 per minute (event time).
//!
//! [`build_delivering`] also delivers every action to action sinks (a webhook, a topic), off
//! the dataflow threads; [`build`] only keeps them in the `actions` projection.
//!
//! Readings that arrive out of order end in exactly the result of processing them in
//! event-time order: a late reading corrects the scores of the sensor's later readings.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tributary_connectors::generator::SensorReading;
use tributary_engine::delivery::{ActionRecord, ActionSink};
use tributary_engine::source::{Source, StreamSpec};
use tributary_engine::{EngineError, Pipeline, ProjectionSpec};
use tributary_operators::{
    ActionEvent, ActionState, AlertRow, AnomalyConfig, AnomalyScores, AnomalyState, KeyStats, OrderedFloat, ScoreRow,
    StatsPerKey, TriggerPolicy, TriggerRule, Triggers, ZScore,
};

/// Name of the input stream.
pub const READINGS: &str = "readings";
/// Name of the per-sensor statistics projection.
pub const SENSOR_STATS: &str = "sensor_stats";
/// Name of the per-sensor anomaly state projection.
pub const ANOMALY_STATE: &str = "anomaly_state";
/// Name of the projection of flagged readings.
pub const ANOMALIES: &str = "anomalies";
/// Name of the projection of currently firing alerts.
pub const ALERTS: &str = "alerts";
/// Name of the projection of action events (the FIRING / RESOLVED log).
pub const ACTIONS: &str = "actions";
/// The alert rule: the sensor had an anomaly within its last [`ALERT_SPAN_MS`] of readings.
pub const ANOMALY_RULE: &str = "sensor_anomaly";
/// How long (event time) a sensor stays in alert after its latest anomaly.
pub const ALERT_SPAN_MS: i64 = 10_000;

/// The alert rule's predicate: the sensor's latest scored reading is at most
/// [`ALERT_SPAN_MS`] after its latest anomaly. A span rather than "the latest reading is an
/// anomaly" so that an alert does not hinge on whether a single reading happened to be the
/// latest one when an epoch closed.
pub fn in_alert(s: &AnomalyState<i64>) -> bool {
    s.last_anomaly_ts.is_some_and(|t| s.ts - t < ALERT_SPAN_MS)
}

/// One row of `sensor_stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorStats {
    /// The sensor.
    pub sensor_id: i64,
    /// Number of readings.
    pub count: i64,
    /// Exact sum of the values (fixed point, 10⁻⁹).
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub avg: f64,
    /// Value of the reading with the greatest event time.
    pub last_value: f64,
    /// Event time of that reading (SQL: `TIMESTAMP`).
    pub last_ts: i64,
}

impl SensorStats {
    /// The row for `sensor_id` from the operator's statistics.
    pub fn from_stats(sensor_id: i64, s: &KeyStats<OrderedFloat<f64>>) -> Self {
        Self {
            sensor_id,
            count: s.aggregate.count,
            sum: s.aggregate.sum_f64(),
            min: s.min.0,
            max: s.max.0,
            avg: s.aggregate.avg().unwrap_or(f64::NAN),
            last_value: s.last.0,
            last_ts: s.last_ts,
        }
    }
}

/// One row of `anomaly_state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorAnomalyState {
    /// The sensor.
    pub sensor_id: i64,
    /// Event time of its latest scored reading (SQL: `TIMESTAMP`).
    pub ts: i64,
    /// That reading's value.
    pub value: f64,
    /// Mean of the sensor's readings strictly earlier than `ts`.
    pub mean: f64,
    /// Their population standard deviation.
    pub std: f64,
    /// `(value − mean) / std`.
    pub score: f64,
    /// `|score| > 4`.
    pub is_anomaly: bool,
    /// How many of the sensor's readings are flagged so far.
    pub anomalies: i64,
    /// Event time of its latest flagged reading (SQL: `TIMESTAMP`, null before the first).
    pub last_anomaly_ts: Option<i64>,
}

impl From<&AnomalyState<i64>> for SensorAnomalyState {
    fn from(s: &AnomalyState<i64>) -> Self {
        Self {
            sensor_id: s.key,
            ts: s.ts,
            value: s.value,
            mean: s.mean,
            std: s.std,
            score: s.score,
            is_anomaly: s.is_anomaly,
            anomalies: i64::try_from(s.anomalies).unwrap_or(i64::MAX),
            last_anomaly_ts: s.last_anomaly_ts,
        }
    }
}

/// One row of `anomalies`: a flagged reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlaggedReading {
    /// The sensor.
    pub sensor_id: i64,
    /// The reading's event time (SQL: `TIMESTAMP`).
    pub ts: i64,
    /// Its value.
    pub value: f64,
    /// Mean of the sensor's strictly earlier readings.
    pub mean: f64,
    /// Their population standard deviation.
    pub std: f64,
    /// `(value − mean) / std`.
    pub score: f64,
}

impl From<&ScoreRow<i64>> for FlaggedReading {
    fn from(s: &ScoreRow<i64>) -> Self {
        Self {
            sensor_id: s.key,
            ts: s.ts,
            value: s.value,
            mean: s.mean,
            std: s.std,
            score: s.score,
        }
    }
}

/// One row of `alerts`: a firing `(rule, sensor)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorAlert {
    /// The rule's name.
    pub rule: String,
    /// The sensor.
    pub sensor_id: i64,
    /// Event time of the FIRING that opened the alert (SQL: `TIMESTAMP`).
    pub since: i64,
    /// Event time of the latest change while it fires (SQL: `TIMESTAMP`).
    pub last_change: i64,
}

impl From<&AlertRow<i64>> for SensorAlert {
    fn from(a: &AlertRow<i64>) -> Self {
        Self {
            rule: a.rule.clone(),
            sensor_id: a.key,
            since: a.since,
            last_change: a.last_change,
        }
    }
}

/// One row of `actions`: an emitted FIRING or RESOLVED.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorAction {
    /// The rule's name.
    pub rule: String,
    /// The sensor.
    pub sensor_id: i64,
    /// `FIRING` or `RESOLVED`.
    pub state: String,
    /// Event time of the change that caused it (SQL: `TIMESTAMP`).
    pub at: i64,
    /// Per rule 0, 1, 2, …: `(rule, seq)` identifies the action.
    pub seq: i64,
    /// How long the rate limit held it back.
    pub held_back_ms: i64,
}

impl From<&ActionEvent<i64>> for SensorAction {
    fn from(a: &ActionEvent<i64>) -> Self {
        Self {
            rule: a.rule.clone(),
            sensor_id: a.key,
            state: match a.state {
                ActionState::Firing => "FIRING",
                ActionState::Resolved => "RESOLVED",
            }
            .to_string(),
            at: a.at,
            seq: i64::try_from(a.seq).unwrap_or(i64::MAX),
            held_back_ms: a.held_back_ms,
        }
    }
}

/// The demo's anomaly settings: flagged when `|z| > 4` with at least 10 earlier readings.
/// Readings wait up to 2 s (the generator's disorder) so that most are scored in event-time
/// order rather than scored and then corrected; the results are the same either way.
pub fn anomaly_config() -> AnomalyConfig {
    AnomalyConfig {
        threshold: 4.0,
        min_count: 10,
        settle_ms: 2_000,
    }
}

impl SensorAction {
    /// The action as the delivery layer sends it: id `"<rule>:<seq>"`, this row as the body.
    pub fn to_record(&self) -> ActionRecord {
        let payload = serde_json::json!({
            "rule": self.rule,
            "sensor_id": self.sensor_id,
            "state": self.state,
            "at": self.at,
            "seq": self.seq,
            "held_back_ms": self.held_back_ms,
        });
        let seq = u64::try_from(self.seq).unwrap_or(0);
        ActionRecord::for_trigger(&self.rule, seq, self.sensor_id.to_string(), &self.state, payload)
    }
}

/// Builds the IoT pipeline over `source`.
pub fn build<S>(p: &mut Pipeline<'_>, source: &S) -> Result<(), EngineError>
where
    S: Source<SensorReading> + ?Sized,
{
    build_delivering(p, source, &[])
}

/// Builds the IoT pipeline over `source` and delivers its actions to each of `sinks`
/// (nothing extra when there are none).
pub fn build_delivering<S>(p: &mut Pipeline<'_>, source: &S, sinks: &[Arc<dyn ActionSink>]) -> Result<(), EngineError>
where
    S: Source<SensorReading> + ?Sized,
{
    let values = p
        .source_with(
            StreamSpec::new(READINGS).with_event_time(|r: &SensorReading| r.ts),
            source,
        )?
        .map(|r| (r.sensor_id, (r.ts, OrderedFloat(r.value))));
    let stats = values
        .clone()
        .stats_per_key()
        .map(|(sensor_id, s)| SensorStats::from_stats(sensor_id, &s));
    p.projection(
        ProjectionSpec::new(SENSOR_STATS)
            .with_timestamp_ms(["last_ts"])
            .with_key_columns(["sensor_id"]),
        stats,
        |row| row.sensor_id,
    )?;

    let scored = values.anomaly_scores(ZScore::all_history(), anomaly_config());
    let flagged = scored.scores.filter(|s| s.is_anomaly).map(|s| FlaggedReading::from(&s));
    p.projection(
        ProjectionSpec::new(ANOMALIES).with_timestamp_ms(["ts"]),
        flagged,
        |row| (row.sensor_id, row.ts, OrderedFloat(row.value)),
    )?;
    p.projection(
        ProjectionSpec::new(ANOMALY_STATE)
            .with_timestamp_ms(["ts", "last_anomaly_ts"])
            .with_key_columns(["sensor_id"]),
        scored.state.clone().map(|s| SensorAnomalyState::from(&s)),
        |row| row.sensor_id,
    )?;

    let rule = TriggerRule::new(ANOMALY_RULE, in_alert, |s: &AnomalyState<i64>| s.ts);
    let triggered = scored.state.map(|s| (s.key, s)).trigger(rule, TriggerPolicy::default());
    p.projection(
        ProjectionSpec::new(ALERTS)
            .with_timestamp_ms(["since", "last_change"])
            .with_key_columns(["rule", "sensor_id"]),
        triggered.alerts.map(|a| SensorAlert::from(&a)),
        |row| (row.rule.clone(), row.sensor_id),
    )?;
    let actions = triggered.actions.map(|a| SensorAction::from(&a));
    if !sinks.is_empty() {
        p.deliver(ACTIONS, actions.clone(), SensorAction::to_record, sinks.to_vec())?;
    }
    p.projection(ProjectionSpec::new(ACTIONS).with_timestamp_ms(["at"]), actions, |row| {
        (row.rule.clone(), row.seq)
    })
}
