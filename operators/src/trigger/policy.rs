//! Dedup and rate limit: which transitions become actions, and when.
//!
//! Membership changes of every `(rule, key)` arrive here on one worker (the rate limit is
//! global, and transitions are rare, so funnelling them costs little), sorted per epoch by
//! `(event time, rule, key)` so that neither arrival order nor the number of workers changes
//! the result. Everything is on *event time*, so a replay decides exactly what the live run
//! decided:
//!
//! * the clock is the greatest event time seen (of transitions, and of one tick per worker
//!   and epoch carrying the greatest event time among that epoch's row changes);
//! * **dedup**: a FIRING less than `dedup_window_ms` after the last admitted FIRING of the same
//!   `(rule, key)` is suppressed, and so is the RESOLVED that would close it, so every
//!   emitted RESOLVED closes an emitted FIRING;
//! * **rate limit**: at most `max_actions_per_minute` actions are emitted in any 60 s of
//!   emission time; the excess waits in a FIFO. An action leaves at the earliest time the
//!   window allows (never before its own time nor before the previous action left), and only
//!   once the clock has reached that time — with no new events the clock stands still and
//!   held actions wait. `held_back_ms` is emission time minus `at`, so a transition decided
//!   after the clock moved past its own time (a late row) carries the gap too;
//! * **overflow**: when `max_held_back` FIRINGs already wait, a new FIRING that cannot leave at
//!   once is dropped and counted (`dropped`), and so is the RESOLVED that would close it. A
//!   RESOLVED of an admitted FIRING is never dropped — that would leave the alert open for
//!   ever — so the queue holds at most `max_held_back` FIRINGs plus one RESOLVED per alert.
//!
//! Cost: O(log n) per transition (a hash lookup and queue operations), O(open alerts) per
//! epoch to prune dedup state that has expired.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use tributary_engine::EventTime;

use super::action::{ActionEvent, ActionState, AlertRow, TriggerStats};

const MINUTE_MS: EventTime = 60_000;

/// How a trigger turns transitions into actions. Deserialises with defaults for missing fields.
///
/// ```
/// use tributary_operators::TriggerPolicy;
///
/// let p = TriggerPolicy { max_actions_per_minute: 60, ..TriggerPolicy::default() };
/// assert_eq!((p.dedup_window_ms, p.max_held_back), (300_000, 10_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriggerPolicy {
    /// A FIRING of a `(rule, key)` within this many milliseconds (event time) of its last
    /// admitted FIRING is suppressed. Default 300,000 (5 min); 0 disables dedup.
    pub dedup_window_ms: i64,
    /// At most this many actions (all rules of the operator together) per 60 s of event
    /// time. Default 10; 0 means no limit.
    pub max_actions_per_minute: u32,
    /// At most this many FIRINGs wait for the rate limit; further ones are dropped and
    /// counted. Default 10,000.
    pub max_held_back: usize,
}

impl Default for TriggerPolicy {
    fn default() -> Self {
        Self {
            dedup_window_ms: 300_000,
            max_actions_per_minute: 10,
            max_held_back: 10_000,
        }
    }
}

/// What the membership stage tells the governor; sorted by `(time, change)` per epoch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Change<K> {
    /// Advances the clock: the greatest event time among a worker's row changes of an epoch.
    Tick,
    /// The rule started to hold for the key.
    Enter(u32, K),
    /// The rule stopped holding for the key.
    Leave(u32, K),
    /// The key's row changed and the rule still holds.
    Touch(u32, K),
}

/// An output update of the governor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Emitted<K> {
    Action(ActionEvent<K>),
    Alert(AlertRow<K>),
    Stats(TriggerStats),
}

/// Sliding-window rate limit over emission times.
struct Limiter {
    per_minute: usize,
    /// The last `per_minute` emission times.
    recent: VecDeque<EventTime>,
    last: Option<EventTime>,
}

impl Limiter {
    /// The earliest time an action at `at` may leave.
    fn earliest(&self, at: EventTime) -> EventTime {
        let mut t = self.last.map_or(at, |last| last.max(at));
        if self.per_minute > 0
            && self.recent.len() >= self.per_minute
            && let Some(oldest) = self.recent.front()
        {
            t = t.max(oldest.saturating_add(MINUTE_MS));
        }
        t
    }

    fn record(&mut self, t: EventTime) {
        self.last = Some(t);
        if self.per_minute > 0 {
            if self.recent.len() >= self.per_minute {
                self.recent.pop_front();
            }
            self.recent.push_back(t);
        }
    }
}

struct Pending<K> {
    rule: u32,
    key: K,
    state: ActionState,
    at: EventTime,
    seq: u64,
    /// For a RESOLVED, the seq of the FIRING it closes.
    closes: u64,
    held: bool,
}

/// How the current stay of a key in a rule's set was decided.
#[derive(Clone, Copy)]
enum Episode {
    Admitted(u64),
    Suppressed,
    Dropped,
}

struct Firing {
    since: EventTime,
    last_change: EventTime,
    shown: bool,
}

#[derive(Default)]
struct Entry {
    /// `at` of the last admitted FIRING, for dedup.
    fence: Option<EventTime>,
    episode: Option<Episode>,
    /// Admitted FIRINGs whose RESOLVED has not been emitted, by seq.
    firings: BTreeMap<u64, Firing>,
}

/// The dedup and rate-limit state machine of one trigger operator.
pub(crate) struct Governor<K> {
    policy: TriggerPolicy,
    names: Vec<String>,
    now: Option<EventTime>,
    limiter: Limiter,
    queue: VecDeque<Pending<K>>,
    queued_firings: usize,
    entries: HashMap<(u32, K), Entry>,
    next_seq: Vec<u64>,
    stats: Vec<TriggerStats>,
    published: Vec<TriggerStats>,
}

impl<K: Clone + Eq + Hash> Governor<K> {
    /// A governor for rules with these names; `out` receives the initial (zero) stats rows.
    pub(crate) fn new(policy: TriggerPolicy, names: Vec<String>, out: &mut Vec<(Emitted<K>, isize)>) -> Self {
        let stats: Vec<TriggerStats> = names.iter().map(TriggerStats::new).collect();
        out.extend(stats.iter().map(|s| (Emitted::Stats(s.clone()), 1)));
        Self {
            policy,
            now: None,
            limiter: Limiter {
                per_minute: policy.max_actions_per_minute as usize,
                recent: VecDeque::new(),
                last: None,
            },
            queue: VecDeque::new(),
            queued_firings: 0,
            entries: HashMap::new(),
            next_seq: vec![0; names.len()],
            published: stats.clone(),
            stats,
            names,
        }
    }

    /// Applies one epoch's changes, which must be sorted, and publishes changed stats.
    pub(crate) fn epoch(&mut self, changes: Vec<(EventTime, Change<K>)>, out: &mut Vec<(Emitted<K>, isize)>) {
        for (at, change) in changes {
            self.now = Some(self.now.map_or(at, |now| now.max(at)));
            self.drain(out);
            match change {
                Change::Tick => {}
                Change::Enter(rule, key) => self.enter(rule, key, at),
                Change::Leave(rule, key) => self.leave(rule, key, at),
                Change::Touch(rule, key) => self.touch(rule, key, at, out),
            }
            self.drain(out);
            if let Some(back) = self.queue.back_mut().filter(|p| !p.held) {
                back.held = true;
                if let Some(s) = self.stats.get_mut(back.rule as usize) {
                    s.held_back += 1;
                }
            }
        }
        for (now, old) in self.stats.iter().zip(self.published.iter_mut()) {
            if now != old {
                out.push((Emitted::Stats(old.clone()), -1));
                out.push((Emitted::Stats(now.clone()), 1));
                *old = now.clone();
            }
        }
        let (window, now) = (self.policy.dedup_window_ms, self.now);
        self.entries.retain(|_, e| {
            let fence_live = e.fence.zip(now).is_some_and(|(f, now)| now.saturating_sub(f) < window);
            e.episode.is_some() || !e.firings.is_empty() || fence_live
        });
    }

    fn enter(&mut self, rule: u32, key: K, at: EventTime) {
        let Some(stats) = self.stats.get_mut(rule as usize) else {
            return;
        };
        let entry = self.entries.entry((rule, key.clone())).or_default();
        let window = self.policy.dedup_window_ms;
        if window > 0 && entry.fence.is_some_and(|f| at.saturating_sub(f) < window) {
            stats.suppressed += 1;
            entry.episode = Some(Episode::Suppressed);
            return;
        }
        let leaves_now = self.queue.is_empty() && self.now.is_some_and(|now| self.limiter.earliest(at) <= now);
        if self.queued_firings >= self.policy.max_held_back && !leaves_now {
            stats.dropped += 1;
            entry.episode = Some(Episode::Dropped);
            return;
        }
        let seq = take_seq(&mut self.next_seq, rule);
        entry.fence = Some(at);
        entry.episode = Some(Episode::Admitted(seq));
        entry.firings.insert(
            seq,
            Firing {
                since: at,
                last_change: at,
                shown: false,
            },
        );
        self.queued_firings += 1;
        self.queue.push_back(Pending {
            rule,
            key,
            state: ActionState::Firing,
            at,
            seq,
            closes: seq,
            held: false,
        });
    }

    fn leave(&mut self, rule: u32, key: K, at: EventTime) {
        let Some(stats) = self.stats.get_mut(rule as usize) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(&(rule, key.clone())) else {
            return;
        };
        match entry.episode.take() {
            Some(Episode::Admitted(closes)) => {
                let seq = take_seq(&mut self.next_seq, rule);
                self.queue.push_back(Pending {
                    rule,
                    key,
                    state: ActionState::Resolved,
                    at,
                    seq,
                    closes,
                    held: false,
                });
            }
            Some(Episode::Suppressed) => stats.suppressed += 1,
            Some(Episode::Dropped) => stats.dropped += 1,
            None => {}
        }
    }

    fn touch(&mut self, rule: u32, key: K, at: EventTime, out: &mut Vec<(Emitted<K>, isize)>) {
        let Some(name) = self.names.get(rule as usize) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(&(rule, key.clone())) else {
            return;
        };
        let Some(Episode::Admitted(seq)) = entry.episode else {
            return;
        };
        let Some(firing) = entry.firings.get_mut(&seq) else {
            return;
        };
        if at <= firing.last_change {
            return;
        }
        if firing.shown {
            out.push((Emitted::Alert(alert(name, &key, firing)), -1));
        }
        firing.last_change = at;
        if firing.shown {
            out.push((Emitted::Alert(alert(name, &key, firing)), 1));
        }
    }

    /// Emits queued actions, in order, while the rate limit allows by the clock.
    fn drain(&mut self, out: &mut Vec<(Emitted<K>, isize)>) {
        let Some(now) = self.now else { return };
        while let Some(front) = self.queue.front() {
            let t = self.limiter.earliest(front.at);
            if t > now {
                break;
            }
            let Some(p) = self.queue.pop_front() else { break };
            self.limiter.record(t);
            let rule = p.rule as usize;
            let (Some(stats), Some(name)) = (self.stats.get_mut(rule), self.names.get(rule)) else {
                continue;
            };
            if p.held {
                stats.released += 1;
            }
            let entry = self.entries.get_mut(&(p.rule, p.key.clone()));
            match p.state {
                ActionState::Firing => {
                    stats.fired += 1;
                    self.queued_firings = self.queued_firings.saturating_sub(1);
                    if let Some(firing) = entry.and_then(|e| e.firings.get_mut(&p.seq)) {
                        firing.shown = true;
                        out.push((Emitted::Alert(alert(name, &p.key, firing)), 1));
                    }
                }
                ActionState::Resolved => {
                    stats.resolved += 1;
                    if let Some(firing) = entry.and_then(|e| e.firings.remove(&p.closes)).filter(|f| f.shown) {
                        out.push((Emitted::Alert(alert(name, &p.key, &firing)), -1));
                    }
                }
            }
            let action = ActionEvent {
                rule: name.clone(),
                key: p.key,
                state: p.state,
                at: p.at,
                seq: p.seq,
                held_back_ms: t.saturating_sub(p.at),
            };
            out.push((Emitted::Action(action), 1));
        }
    }
}

fn take_seq(next: &mut [u64], rule: u32) -> u64 {
    next.get_mut(rule as usize).map_or(0, |n| {
        *n += 1;
        *n - 1
    })
}

fn alert<K: Clone>(rule: &str, key: &K, firing: &Firing) -> AlertRow<K> {
    AlertRow {
        rule: rule.to_owned(),
        key: key.clone(),
        since: firing.since,
        last_change: firing.last_change,
    }
}
