//! `trigger`: maintain the set of `(rule, key)` where a rule holds over a projection and turn
//! its changes into FIRING/RESOLVED actions.
//!
//! Two custom timely operators, because both steps need per-epoch, in-order processing that
//! a `reduce` cannot give cheaply:
//!
//! 1. **Membership**, on the key's worker (exchange by key hash): per epoch, the net change
//!    of each key's rows (consolidated, so a row replaced within the epoch by another row for
//!    which the rule still holds makes no transition) updates a per-key count of rows for
//!    which each rule holds. A count going 0 → positive is an `Enter`, positive → 0 a
//!    `Leave`, a new matching row while positive a `Touch` (for the alert's `last_change`).
//!    Only keys with a non-zero count keep state. Each worker also sends one `Tick` per epoch
//!    carrying the greatest event time it saw, which drives the clock.
//! 2. **Governor**, on worker 0 (exchange by a constant): the rate limit is global, so all
//!    transitions meet in one place; they are rare, so this is cheap. Per epoch, in epoch
//!    order, they are sorted by `(event time, rule, key)` — the output does not depend on
//!    arrival order or the number of workers — and fed to the dedup and rate-limit state
//!    machine (see [`TriggerPolicy`]).
//!
//! The time of a transition is the event time of the row change that caused it: the newest
//! inserted row for an `Enter` or `Touch`; for a `Leave` the newest inserted row of the key
//! (the replacement for which the rule no longer holds) or, when the key's rows were only
//! retracted, the newest retracted row for which the rule held.
//!
//! Results depend only on the net changes of each epoch, never on arrival order within an
//! epoch or on the number of workers. A change undone within one epoch is invisible (as to
//! every differential consumer), and transitions are ordered by epoch first, so splitting a
//! history into epochs differently gives the same actions when each `(rule, key)` changes
//! at most once per epoch and the changes' event times increase along the history — the
//! usual case of a projection fed in event-time order. A late row is applied at the epoch
//! it arrives in, and a retraction-only leave sorts by its retracted (older) row's time.
//!
//! Cost per projection update: its share of a sort of the epoch's updates, one predicate and
//! event-time evaluation per rule, one hash lookup per changed key; only transitions (and
//! one tick per worker and epoch) cross to the governor, which spends O(log n) on each.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use differential_dataflow::consolidation::consolidate;
use differential_dataflow::{AsCollection, ExchangeData};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;
use tributary_engine::{Collection, Epoch, EventTime};

use super::action::{ActionEvent, AlertRow, TriggerStats};
use super::policy::{Change, Emitted, Governor, TriggerPolicy};
use super::rule::TriggerRule;

/// Updates waiting for their epoch to complete, with a capability to emit at that epoch.
type Pending<A, B> = BTreeMap<Epoch, (Capability<Epoch>, Vec<(A, B)>)>;

/// What a trigger produces.
pub struct TriggerOutputs<'scope, K: 'static> {
    /// Every emitted action, inserted once (append-only), in `(rule, seq)` order per rule.
    pub actions: Collection<'scope, ActionEvent<K>>,
    /// The currently open alerts: one row per emitted FIRING, retracted by its RESOLVED.
    pub alerts: Collection<'scope, AlertRow<K>>,
    /// One row per rule with its counters, updated at the end of each epoch that changes them.
    pub stats: Collection<'scope, TriggerStats>,
}

impl<K> std::fmt::Debug for TriggerOutputs<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerOutputs").finish_non_exhaustive()
    }
}

/// Alerting rules over a projection `(key, row)` with one row per key.
pub trait Triggers<'scope, K, R> {
    /// Evaluates one rule under `policy`; see [`Triggers::triggers`].
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{ActionState, TriggerPolicy, TriggerRule, Triggers};
    ///
    /// timely::example(|scope| {
    ///     // (sensor, (ts, score)): sensor 1 has |score| > 4, sensor 2 does not
    ///     let (_, scores) = scope.new_collection_from(vec![(1i64, (1_000i64, 5i64)), (2, (1_000, 1))]);
    ///     let rule = TriggerRule::new("high_score", |r: &(i64, i64)| r.1.abs() > 4, |r| r.0);
    ///     let out = scores.trigger(rule, TriggerPolicy::default());
    ///     out.actions.inspect(|(action, _epoch, diff)| {
    ///         assert_eq!((action.key, action.state, action.at, action.seq, *diff), (1, ActionState::Firing, 1_000, 0, 1));
    ///     });
    ///     out.alerts.inspect(|(alert, _, _)| assert_eq!((alert.key, alert.since), (1, 1_000)));
    /// });
    /// ```
    fn trigger(self, rule: TriggerRule<R>, policy: TriggerPolicy) -> TriggerOutputs<'scope, K>;

    /// Evaluates several rules over the same projection with one membership pass and one
    /// rate limit shared by all of them. Rule names should be distinct: outputs name the rule.
    fn triggers(self, rules: Vec<TriggerRule<R>>, policy: TriggerPolicy) -> TriggerOutputs<'scope, K>;
}

impl<'scope, K, R> Triggers<'scope, K, R> for Collection<'scope, (K, R)>
where
    K: ExchangeData + Hash,
    R: ExchangeData,
{
    fn trigger(self, rule: TriggerRule<R>, policy: TriggerPolicy) -> TriggerOutputs<'scope, K> {
        self.triggers(vec![rule], policy)
    }

    fn triggers(self, rules: Vec<TriggerRule<R>>, policy: TriggerPolicy) -> TriggerOutputs<'scope, K> {
        let names: Vec<String> = rules.iter().map(|r| r.name().to_owned()).collect();
        let governed_here = self.scope().index() == 0;
        let changes = self
            .inner
            .unary_frontier::<CapacityContainerBuilder<Vec<(EventTime, Change<K>)>>, _, _, _>(
                Exchange::new(|((k, _), _, _): &((K, R), Epoch, isize)| key_hash(k)),
                "TriggerMembership",
                move |_cap, _info| {
                    let mut pending: Pending<(K, R), isize> = BTreeMap::new();
                    let mut counts: HashMap<K, Vec<isize>> = HashMap::new();
                    move |(input, frontier), output| {
                        let port = output.output_index();
                        input.for_each_stamp(|cap, data| {
                            let Some(held) = cap.retain_least(port) else { return };
                            for batch in data {
                                for (kr, t, d) in batch.drain(..) {
                                    let slot = pending.entry(t).or_insert_with(|| (held.delayed(&t), Vec::new()));
                                    slot.1.push((kr, d));
                                }
                            }
                        });
                        while let Some(entry) = pending.first_entry() {
                            if frontier.less_equal(entry.key()) {
                                break;
                            }
                            let (cap, updates) = entry.remove();
                            let mut session = output.session(&cap);
                            membership(&rules, &mut counts, updates, |change| session.give(change));
                        }
                    }
                },
            );
        let emitted = changes
            .unary_frontier::<CapacityContainerBuilder<Vec<(Emitted<K>, Epoch, isize)>>, _, _, _>(
                Exchange::new(|_: &(EventTime, Change<K>)| 0),
                "TriggerGovernor",
                move |cap, _info| {
                    let mut initial = Vec::new();
                    let mut governor = Governor::new(policy, names, &mut initial);
                    // Worker 0 governs; it publishes the zero stats rows at the first epoch.
                    let mut first = governed_here.then_some(cap);
                    let mut pending: Pending<EventTime, Change<K>> = BTreeMap::new();
                    let mut out = Vec::new();
                    move |(input, frontier), output| {
                        if let Some(cap) = first.take() {
                            let time = *cap.time();
                            output
                                .session(&cap)
                                .give_iterator(initial.drain(..).map(|(e, d)| (e, time, d)));
                        }
                        let port = output.output_index();
                        input.for_each_stamp(|cap, data| {
                            let Some(held) = cap.retain_least(port) else { return };
                            let slot = pending
                                .entry(*held.time())
                                .or_insert_with(|| (held.clone(), Vec::new()));
                            for batch in data {
                                slot.1.append(batch);
                            }
                        });
                        while let Some(entry) = pending.first_entry() {
                            if frontier.less_equal(entry.key()) {
                                break;
                            }
                            let (cap, mut changes) = entry.remove();
                            changes.sort();
                            governor.epoch(changes, &mut out);
                            consolidate(&mut out);
                            let time = *cap.time();
                            output
                                .session(&cap)
                                .give_iterator(out.drain(..).map(|(e, d)| (e, time, d)));
                        }
                    }
                },
            )
            .as_collection();
        TriggerOutputs {
            actions: emitted.clone().flat_map(|e| match e {
                Emitted::Action(a) => Some(a),
                _ => None,
            }),
            alerts: emitted.clone().flat_map(|e| match e {
                Emitted::Alert(a) => Some(a),
                _ => None,
            }),
            stats: emitted.flat_map(|e| match e {
                Emitted::Stats(s) => Some(s),
                _ => None,
            }),
        }
    }
}

/// One epoch of the membership stage: consolidates `updates`, updates `counts` and reports
/// transitions, touches and the epoch's tick.
fn membership<K, R>(
    rules: &[TriggerRule<R>],
    counts: &mut HashMap<K, Vec<isize>>,
    mut updates: Vec<((K, R), isize)>,
    mut report: impl FnMut((EventTime, Change<K>)),
) where
    K: Ord + Hash + Clone,
    R: Ord,
{
    consolidate(&mut updates);
    let mut tick: Option<EventTime> = None;
    for group in updates.chunk_by(|a, b| a.0.0 == b.0.0) {
        let Some(((key, _), _)) = group.first() else { continue };
        let mut now: Vec<isize> = counts.get(key).cloned().unwrap_or_else(|| vec![0; rules.len()]);
        for (i, rule) in rules.iter().enumerate() {
            let (mut delta, mut inserted_match, mut inserted, mut retracted_match) = (0, None, None, None);
            for ((_, row), d) in group {
                let (holds, t) = (rule.holds(row), rule.event_time(row));
                tick = tick.max(Some(t));
                if *d > 0 {
                    inserted = inserted.max(Some(t));
                }
                if holds {
                    delta += d;
                    if *d > 0 {
                        inserted_match = inserted_match.max(Some(t));
                    } else {
                        retracted_match = retracted_match.max(Some(t));
                    }
                }
            }
            let Some(count) = now.get_mut(i) else { continue };
            let (was, is) = (*count > 0, *count + delta > 0);
            *count += delta;
            let rule = i as u32;
            let change = match (was, is) {
                (false, true) => inserted_match.map(|t| (t, Change::Enter(rule, key.clone()))),
                (true, false) => inserted
                    .or(retracted_match)
                    .map(|t| (t, Change::Leave(rule, key.clone()))),
                (true, true) => inserted_match.map(|t| (t, Change::Touch(rule, key.clone()))),
                (false, false) => None,
            };
            if let Some(change) = change {
                report(change);
            }
        }
        if now.iter().all(|c| *c == 0) {
            counts.remove(key);
        } else {
            counts.insert(key.clone(), now);
        }
    }
    if let Some(t) = tick {
        report((t, Change::Tick));
    }
}

/// A hash of the key that is the same on every worker and process (fixed SipHash keys).
fn key_hash<K: Hash>(key: &K) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    key.hash(&mut h);
    h.finish()
}
