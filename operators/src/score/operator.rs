//! `anomaly_scores`: per-reading scores and a per-key anomaly state, as one custom timely
//! operator.
//!
//! A score depends on *all* strictly earlier readings of the key in event-time order, so a
//! `reduce` would re-read the key's whole history on every update. Instead the operator
//! exchanges readings by key hash, buffers each epoch's updates, and once the input
//! frontier has passed an epoch applies its updates in epoch order to each key's
//! [`History`] (sorted readings plus scorer checkpoints). Corrections — late readings,
//! retractions — retract the affected score rows and insert the corrected ones at the epoch
//! of the correction; since every key is evaluated as if its readings had arrived in
//! `(ts, value)` order, the accumulated output depends only on the set of readings.
//!
//! Cost per update: O(log) to buffer; per key and epoch, O(m · log m) for the m readings
//! at or after the epoch's earliest changed event time plus the scorer's cost for each of
//! them (O(1) for all-history z and EWMA, O(window) for the sliding z). In-order readings
//! therefore cost O(1) amortised plus one state clone per distinct event time; a reading
//! k places late costs O(k). Memory: every reading and one checkpoint per distinct event
//! time, per key, on the worker owning the key.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Instant;

use differential_dataflow::consolidation::consolidate;
use differential_dataflow::hashable::Hashable;
use differential_dataflow::{AsCollection, ExchangeData};
use ordered_float::OrderedFloat;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::CapabilitySet;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use tributary_engine::{Collection, Epoch, EventTime};

use super::history::{History, Reading};
use super::rows::{AnomalyConfig, AnomalyState, ScoreRow};
use super::scorer::Scorer;
use super::settle::{ByKey, SettleBuffer};

/// The two outputs of [`AnomalyScores::anomaly_scores`].
pub struct AnomalyOutputs<'scope, K: 'static> {
    /// One row per scored reading (a reading with fewer than `min_count` strictly earlier
    /// readings of its key has none); identical readings give one row per copy.
    pub scores: Collection<'scope, ScoreRow<K>>,
    /// One row per key with a scored reading: the latest one, plus the key's anomaly count.
    pub state: Collection<'scope, AnomalyState<K>>,
}

impl<K: 'static> std::fmt::Debug for AnomalyOutputs<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnomalyOutputs").finish_non_exhaustive()
    }
}

/// Anomaly scores over `(key, (event_time, value))` readings.
pub trait AnomalyScores<'scope, K: 'static> {
    /// Scores every reading against the same key's readings *strictly* earlier in event
    /// time (readings with equal `ts` do not see each other), with `scorer` as the model.
    /// A reading is scored once at least `config.min_count` earlier readings exist, and
    /// flagged when `|score| > config.threshold`. Late readings and retractions correct the
    /// scores of the key's later readings (retract + insert at the correcting epoch), so
    /// the result is that of processing the readings in `(ts, value)` order.
    ///
    /// `state` holds per key the scored reading with the greatest `ts` (ties: greater value)
    /// and `anomalies`, the number of the key's flagged score rows.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{AnomalyConfig, AnomalyScores, OrderedFloat, ZScore};
    ///
    /// timely::example(|scope| {
    ///     let readings = (0..10i64).map(|i| (7u32, (i, OrderedFloat(if i == 9 { 50.0 } else { (i % 2) as f64 }))));
    ///     let config = AnomalyConfig { threshold: 4.0, min_count: 4, settle_ms: 0 };
    ///     let out = scope.new_collection_from(readings).1.anomaly_scores(ZScore::all_history(), config);
    ///     out.scores.inspect(|(row, _, _)| assert_eq!(row.is_anomaly, row.ts == 9));
    ///     // the latest scored reading of key 7, and one anomaly so far
    ///     out.state.inspect(|(s, _, _)| assert_eq!((s.key, s.ts, s.value, s.anomalies), (7, 9, 50.0, 1)));
    /// });
    /// ```
    fn anomaly_scores<S: Scorer>(self, scorer: S, config: AnomalyConfig) -> AnomalyOutputs<'scope, K>;
}

/// The operator's bookkeeping per key.
struct KeyState<K, S: Scorer> {
    history: History<S>,
    /// Flagged score rows currently present, with multiplicity.
    flagged: isize,
    /// Event times of the flagged rows, with multiplicity (anomalies are rare, so small).
    flagged_ts: BTreeMap<EventTime, isize>,
    /// The `state` row last emitted.
    emitted: Option<AnomalyState<K>>,
}

impl<K: ExchangeData, S: Scorer> KeyState<K, S> {
    fn new(scorer: &S) -> Self {
        Self {
            history: History::new(scorer),
            flagged: 0,
            flagged_ts: BTreeMap::new(),
            emitted: None,
        }
    }

    /// Whether the key holds nothing any more, so its bookkeeping can go.
    fn is_empty(&self) -> bool {
        self.history.is_empty() && self.emitted.is_none() && self.flagged == 0 && self.flagged_ts.is_empty()
    }

    /// Applies one epoch's consolidated `updates` of `key`, appending the (consolidated)
    /// score row changes and the state row change.
    fn apply(
        &mut self,
        key: &K,
        scorer: &S,
        config: &AnomalyConfig,
        updates: &[(Reading, isize)],
        score_rows: &mut Vec<(ScoreRow<K>, isize)>,
        state_rows: &mut Vec<(AnomalyState<K>, isize)>,
    ) {
        let mut changes = Vec::new();
        self.history.apply(scorer, config.min_count, updates, &mut changes);
        let mut rows: Vec<_> = changes
            .into_iter()
            .map(|((ts, value, p), diff)| {
                let row = ScoreRow {
                    key: key.clone(),
                    ts,
                    value,
                    mean: p.mean,
                    std: p.std,
                    score: p.score,
                    is_anomaly: config.is_anomaly(p.score),
                };
                (row, diff)
            })
            .collect();
        // A correction re-inserts most rows unchanged; only the difference leaves.
        consolidate(&mut rows);
        for (row, diff) in rows.iter().filter(|(row, _)| row.is_anomaly) {
            self.flagged += diff;
            let at = self.flagged_ts.entry(row.ts).or_insert(0);
            *at += diff;
            if *at == 0 {
                self.flagged_ts.remove(&row.ts);
            }
        }
        let last_anomaly_ts = self.flagged_ts.iter().rev().find(|(_, n)| **n > 0).map(|(ts, _)| *ts);
        score_rows.append(&mut rows);
        let latest = self.history.latest().map(|(ts, value, p)| AnomalyState {
            key: key.clone(),
            ts,
            value,
            mean: p.mean,
            std: p.std,
            score: p.score,
            is_anomaly: config.is_anomaly(p.score),
            anomalies: u64::try_from(self.flagged).unwrap_or(0),
            last_anomaly_ts,
        });
        if latest != self.emitted {
            state_rows.extend(self.emitted.take().map(|old| (old, -1)));
            state_rows.extend(latest.clone().map(|new| (new, 1)));
            self.emitted = latest;
        }
    }
}

type Update<K> = ((K, (EventTime, OrderedFloat<f64>)), Epoch, isize);
type Rows<D> = CapacityContainerBuilder<Vec<(D, Epoch, isize)>>;

impl<'scope, K> AnomalyScores<'scope, K> for Collection<'scope, (K, (EventTime, OrderedFloat<f64>))>
where
    K: ExchangeData + Hash,
{
    fn anomaly_scores<S: Scorer>(self, scorer: S, config: AnomalyConfig) -> AnomalyOutputs<'scope, K> {
        let mut builder = OperatorBuilder::new("AnomalyScores".to_owned(), self.scope());
        let mut input = builder.new_input(self.inner, Exchange::new(|((k, _), _, _): &Update<K>| k.hashed()));
        let (scores_out, scores) = builder.new_output();
        let (state_out, state) = builder.new_output();
        let mut scores_out = OutputBuilder::<_, Rows<ScoreRow<K>>>::from(scores_out);
        let mut state_out = OutputBuilder::<_, Rows<AnomalyState<K>>>::from(state_out);

        builder.build(move |_initial| {
            // Capabilities per output, held at the earliest pending epoch.
            let mut caps = [CapabilitySet::<Epoch>::new(), CapabilitySet::new()];
            let mut pending: BTreeMap<Epoch, ByKey<K>> = BTreeMap::new();
            let mut keys: HashMap<K, KeyState<K, S>> = HashMap::new();
            let mut settle = SettleBuffer::new(config.settle_ms);
            let mut score_rows = Vec::new();
            let mut state_rows = Vec::new();
            // The greatest epoch anything was sent at. Settled readings never leave at an
            // earlier one: downstream, the live table applies epochs in order, and a
            // retraction of a row sent at a later epoch would be applied before the row.
            let mut last_sent: Option<Epoch> = None;

            move |frontiers| {
                input.for_each(|cap, data| {
                    for (port, set) in caps.iter_mut().enumerate() {
                        if let Some(c) = cap.retain_least(port) {
                            set.insert(c);
                        }
                    }
                    for ((key, (ts, x)), epoch, diff) in data.drain(..) {
                        let reading = (ts, OrderedFloat(canonical(x.0)));
                        pending
                            .entry(epoch)
                            .or_default()
                            .entry(key)
                            .or_default()
                            .push((reading, diff));
                    }
                });

                let frontier = &frontiers[0];
                let mut apply = |ready: ByKey<K>, score_rows: &mut Vec<_>, state_rows: &mut Vec<_>| {
                    for (key, mut updates) in ready {
                        consolidate(&mut updates);
                        let entry = keys.entry(key.clone()).or_insert_with(|| KeyState::new(&scorer));
                        entry.apply(&key, &scorer, &config, &updates, score_rows, state_rows);
                        if entry.is_empty() {
                            keys.remove(&key);
                        }
                    }
                };
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let (epoch, updates) = entry.remove_entry();
                    last_sent = last_sent.max(Some(epoch));
                    apply(settle.admit(updates, Instant::now()), &mut score_rows, &mut state_rows);
                    emit(&mut scores_out, &caps[0], epoch, &mut score_rows);
                    emit(&mut state_out, &caps[1], epoch, &mut state_rows);
                }

                // Settled readings of a quiet stream leave at the current frontier, under the
                // capability held for them; those of a finished one (no frontier) at the last
                // epoch anything left at, which a held capability still covers.
                let now_epoch = frontier.frontier().iter().min().copied();
                if !settle.is_empty() {
                    let ready = settle.release_due(Instant::now(), now_epoch.is_none());
                    let held = caps[0].iter().map(|c| *c.time()).min();
                    if let Some(epoch) = now_epoch.max(held).max(last_sent) {
                        last_sent = Some(epoch);
                        apply(ready, &mut score_rows, &mut state_rows);
                        emit(&mut scores_out, &caps[0], epoch, &mut score_rows);
                        emit(&mut state_out, &caps[1], epoch, &mut state_rows);
                    }
                }

                // Hold capabilities for the earliest epoch still pending, and at the frontier
                // while readings wait to settle; none when idle.
                let earliest = pending.keys().next().copied();
                let waiting = if settle.is_empty() { None } else { now_epoch };
                let hold = earliest.into_iter().chain(waiting).min();
                for set in &mut caps {
                    *set = hold.and_then(|epoch| set.try_delayed(&epoch)).into_iter().collect();
                }
            }
        });

        AnomalyOutputs {
            scores: scores.as_collection(),
            state: state.as_collection(),
        }
    }
}

/// Sends `rows` at `epoch`, under a capability for it from `caps`.
fn emit<D: Clone + 'static>(
    output: &mut OutputBuilder<Epoch, Rows<D>>,
    caps: &CapabilitySet<Epoch>,
    epoch: Epoch,
    rows: &mut Vec<(D, isize)>,
) {
    if rows.is_empty() {
        return;
    }
    // Every pending epoch came with a capability at or before it, still held.
    if let Some(cap) = caps.try_delayed(&epoch) {
        let mut handle = output.activate();
        let mut session = handle.session(&cap);
        for (row, diff) in rows.drain(..) {
            session.give((row, epoch, diff));
        }
    }
    rows.clear();
}

/// One representative per value that `OrderedFloat` considers equal (`-0.0` and `0.0`, all
/// NaNs), so that the output does not depend on which copy arrived first.
fn canonical(x: f64) -> f64 {
    if x.is_nan() { f64::NAN } else { x + 0.0 }
}
