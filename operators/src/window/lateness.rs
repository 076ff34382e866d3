//! `split_late`: the watermark of a stream, and what happens to records behind it.
//!
//! **Watermark.** `watermark = max event time seen − allowed_lateness`, over every update
//! (insertion or retraction) of the stream. To be deterministic it is computed per *epoch*:
//! the records of epoch `e` are judged against the watermark of all records of epochs `< e`,
//! on every worker alike. Each worker sends the greatest event time of each of its input
//! batches to every worker (a broadcast of one number per batch); a record of epoch `e` is
//! released once that broadcast has passed `e − 1`. Arrival order within an epoch therefore
//! never matters, and any number of workers and processes make the same decisions.
//!
//! **Late records** (event time `<` the watermark) are, by [`LatePolicy`]:
//! * `Correct` (the default): applied like any other record — downstream windows are
//!   corrected at the epoch the record arrives in. Records are not delayed at all (the
//!   watermark is still computed, as data).
//! * `DeadLetter`: split off into [`LateSplit::late`] as `(record, watermark)` — errors
//!   travel as data, never dropped silently — for
//!   `Pipeline::dead_letter_late` to write to the dead-letter queue. A late *retraction* is
//!   split off too: the record it would retract stays in `ok`.
//!
//! **Idle sources.** Without new records the maximum never grows and windows never close.
//! With `idle_timeout_ms = Some(t)`, worker 0 also broadcasts a wall-clock reading whenever an
//! epoch closes, and event time is assumed to advance with the wall clock once the maximum
//! has not grown for `t` ms: the effective maximum is
//! `max + (now − raised_at − t)` when positive, where `raised_at` is the reading of the epoch
//! that last raised the maximum and `now` the newest reading. It never moves backwards: a
//! record only raises the maximum when it is newer than the effective maximum. Workers agree
//! because they all fold the same readings; the decisions then depend on the wall clock, as
//! they must for an idle source — without `idle_timeout_ms` they depend on the records and
//! their epochs only.
//!
//! **Output.** [`LateSplit::watermark`] holds one record, the watermark of the latest
//! epoch (from worker 0 only, so it is not multiplied by the number of workers), ready to
//! become a projection (`.map(|w| ("stream", w))`) or to compact session windows.
//!
//! **State.** Under `DeadLetter`, the records of an epoch are held until the epoch is decided
//! and the per-epoch maxima until they are folded into one running maximum: after every
//! complete epoch nothing is held ([`LateSplit::state`]). Cost per update: O(1) plus a
//! `BTreeMap` insertion of its epoch; one broadcast message per input batch and worker.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use differential_dataflow::{AsCollection, Data};
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::{Operator, empty};
use timely::dataflow::operators::vec::Broadcast;
use tributary_engine::{Collection, Epoch, EventTime};

use super::state::{Pending, StateSize, bound};

/// What happens to a record behind the watermark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatePolicy {
    /// Apply it: window results are corrected (the default — nothing is lost).
    #[default]
    Correct,
    /// Split it off to be dead-lettered with kind `late`; windows behind the watermark close.
    DeadLetter,
}

/// A stream's lateness configuration. Every field has a default (`#[serde(default)]`):
/// `{"allowed_lateness_ms": 0, "on_late": "correct", "idle_timeout_ms": null}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct LatenessPolicy {
    /// How far behind the newest event time a record may be and still be on time (negative
    /// values count as 0). Default 0: anything older than the newest record is late.
    pub allowed_lateness_ms: i64,
    /// What happens to late records. Default [`LatePolicy::Correct`].
    pub on_late: LatePolicy,
    /// After this much wall-clock time without a new maximum, event time is assumed to advance
    /// with the wall clock (see the module docs; negative values count as 0). Default `None`:
    /// the watermark only moves with the records, and decisions are independent of the wall
    /// clock.
    pub idle_timeout_ms: Option<i64>,
}

/// The outputs of [`SplitLate::split_late`].
pub struct LateSplit<'scope, D: 'static> {
    /// On-time records, plus the late ones under [`LatePolicy::Correct`].
    pub ok: Collection<'scope, D>,
    /// Under [`LatePolicy::DeadLetter`], each late update with the watermark it was behind.
    pub late: Collection<'scope, (D, EventTime)>,
    /// The current watermark, one record (absent before the first record).
    pub watermark: Collection<'scope, EventTime>,
    /// Records and per-epoch maxima held on this worker.
    pub state: StateSize,
}

impl<D: 'static> std::fmt::Debug for LateSplit<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LateSplit")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Splits a stream by its watermark.
pub trait SplitLate<'scope, D> {
    /// Computes the watermark of this collection by `event_time` and splits off what is
    /// behind it according to `policy` (see the module docs for the exact rule).
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{LatePolicy, LatenessPolicy, SplitLate};
    ///
    /// timely::execute_directly(|worker| {
    ///     let policy = LatenessPolicy { allowed_lateness_ms: 5, on_late: LatePolicy::DeadLetter, idle_timeout_ms: None };
    ///     let mut input = worker.dataflow::<u64, _, _>(|scope| {
    ///         let (input, readings) = scope.new_collection::<(&'static str, i64), isize>();
    ///         let split = readings.split_late(&policy, |(_, ts)| *ts);
    ///         // epoch 1 is judged by epoch 0's maximum, 100: watermark 95
    ///         split.late.inspect(|((r, w), _, _)| assert_eq!((*r, *w), (("old", 90), 95)));
    ///         split.ok.inspect(|(r, _, _)| assert_ne!(r.0, "old"));
    ///         input
    ///     });
    ///     input.insert(("first", 100));
    ///     input.advance_to(1);
    ///     input.insert(("old", 90)); // 10 ms behind the newest: late
    ///     input.insert(("fine", 96));
    /// });
    /// ```
    fn split_late<F>(self, policy: &LatenessPolicy, event_time: F) -> LateSplit<'scope, D>
    where
        F: Fn(&D) -> EventTime + 'static;
}

/// What a worker tells every worker about an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Progress {
    /// The greatest event time of one of its input batches.
    Seen(EventTime),
    /// Worker 0's wall clock (epoch ms) when the epoch closed.
    Clock(i64),
}

#[derive(Debug, Clone)]
enum Split<D> {
    Ok(D),
    Late(D, EventTime),
    Mark(EventTime),
}

impl<'scope, D: Data> SplitLate<'scope, D> for Collection<'scope, D> {
    fn split_late<F>(self, policy: &LatenessPolicy, event_time: F) -> LateSplit<'scope, D>
    where
        F: Fn(&D) -> EventTime + 'static,
    {
        let event_time = Rc::new(event_time);
        let scope = self.inner.scope();
        let progress = maxima(&self, policy, event_time.clone()).broadcast();
        let state = StateSize::default();
        let (judged, ok): (Records<'scope, D>, Option<Collection<'scope, D>>) = match policy.on_late {
            LatePolicy::DeadLetter => (self.inner.clone(), None),
            // Nothing is held back: the operator only computes the watermark.
            LatePolicy::Correct => (empty(scope), Some(self)),
        };
        let mut clock = EventClock::new(policy);
        let worker = scope.index();
        let state_gauge = state.clone();
        let split = judged
            .binary_frontier(progress, Pipeline, Pipeline, "SplitLate", move |cap, _| {
                let mut pending: Pending<(D, isize)> = BTreeMap::new();
                let mut maxima: BTreeMap<Epoch, Vec<Progress>> = BTreeMap::new();
                // Worker 0 alone publishes the watermark, at the first undecided epoch.
                let mut mark_cap = (worker == 0).then_some(cap);
                let mut published: Option<EventTime> = None;
                move |(records, records_frontier), (progress_in, progress_frontier), output| {
                    records.for_each(|cap, data| {
                        for (d, t, r) in data.drain(..) {
                            let slot = pending.entry(t).or_insert_with(|| (cap.delayed(&t, 0), Vec::new()));
                            slot.1.push((d, r));
                        }
                    });
                    progress_in.for_each(|_, data| {
                        for (epoch, p) in data.drain(..) {
                            maxima.entry(epoch).or_default().push(p);
                        }
                    });
                    let done_records = bound(records_frontier);
                    let done_progress = bound(progress_frontier);
                    while let Some(entry) = pending.first_entry() {
                        let epoch = *entry.key();
                        if epoch >= done_records || epoch > done_progress {
                            break;
                        }
                        let (cap, updates) = entry.remove();
                        clock.fold_before(&mut maxima, epoch);
                        let watermark = clock.watermark();
                        let mut session = output.session(&cap);
                        for (d, r) in updates {
                            match watermark {
                                Some(w) if event_time(&d) < w => session.give((Split::Late(d, w), epoch, r)),
                                _ => session.give((Split::Ok(d), epoch, r)),
                            }
                        }
                    }
                    clock.fold_before(&mut maxima, done_progress);
                    if done_progress == Epoch::MAX {
                        mark_cap = None;
                    }
                    if let Some(cap) = mark_cap.as_mut() {
                        cap.downgrade(&done_progress);
                        let current = clock.watermark();
                        if current != published {
                            let mut session = output.session(&*cap);
                            if let Some(old) = published {
                                session.give((Split::Mark(old), done_progress, -1));
                            }
                            if let Some(new) = current {
                                session.give((Split::Mark(new), done_progress, 1));
                            }
                            published = current;
                        }
                    }
                    let held: usize = pending.values().map(|(_, v)| v.len()).sum::<usize>()
                        + maxima.values().map(Vec::len).sum::<usize>();
                    state_gauge.set(held);
                }
            })
            .as_collection();
        let ok = match ok {
            Some(ok) => ok,
            None => split.clone().flat_map(|s| match s {
                Split::Ok(d) => Some(d),
                _ => None,
            }),
        };
        LateSplit {
            ok,
            late: split.clone().flat_map(|s| match s {
                Split::Late(d, w) => Some((d, w)),
                _ => None,
            }),
            watermark: split.flat_map(|s| match s {
                Split::Mark(w) => Some(w),
                _ => None,
            }),
            state,
        }
    }
}

type Records<'scope, D> = timely::dataflow::StreamVec<'scope, Epoch, (D, Epoch, isize)>;

type ProgressStream<'scope> = timely::dataflow::StreamVec<'scope, Epoch, (Epoch, Progress)>;

/// Per input batch, the greatest event time of each of its epochs; on worker 0 with an idle
/// timeout, also a wall-clock reading each time the input frontier advances.
fn maxima<'scope, D: Data, F: Fn(&D) -> EventTime + 'static>(
    input: &Collection<'scope, D>,
    policy: &LatenessPolicy,
    event_time: Rc<F>,
) -> ProgressStream<'scope> {
    let clocked = policy.idle_timeout_ms.is_some() && input.inner.scope().index() == 0;
    input
        .inner
        .clone()
        .unary_frontier(Pipeline, "WatermarkMaxima", move |cap, _| {
            let mut clock_cap = clocked.then_some(cap);
            let mut batch: BTreeMap<Epoch, EventTime> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    for (d, t, _) in data.iter() {
                        let ts = event_time(d);
                        batch.entry(*t).and_modify(|m| *m = (*m).max(ts)).or_insert(ts);
                    }
                    for (t, m) in std::mem::take(&mut batch) {
                        output.session(&cap.delayed(&t, 0)).give((t, Progress::Seen(m)));
                    }
                });
                if let Some(cap) = clock_cap.as_mut() {
                    let done = bound(frontier);
                    if done == Epoch::MAX {
                        clock_cap = None;
                    } else if done > *cap.time() {
                        // Epochs up to `done - 1` have just closed: one reading for them all.
                        let closed = done - 1;
                        output
                            .session(&cap.delayed(&closed))
                            .give((closed, Progress::Clock(now_ms())));
                        cap.downgrade(&done);
                    }
                }
            }
        })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The running maximum, folded epoch by epoch in epoch order.
#[derive(Debug)]
struct EventClock {
    allowed_lateness_ms: i64,
    idle_timeout_ms: Option<i64>,
    /// The maximum when it was last raised by a record.
    base: Option<EventTime>,
    /// The wall-clock reading of the epoch that last raised it.
    raised_at: Option<i64>,
    /// The newest wall-clock reading.
    now: Option<i64>,
}

impl EventClock {
    fn new(policy: &LatenessPolicy) -> Self {
        Self {
            allowed_lateness_ms: policy.allowed_lateness_ms.max(0),
            idle_timeout_ms: policy.idle_timeout_ms.map(|t| t.max(0)),
            base: None,
            raised_at: None,
            now: None,
        }
    }

    /// Folds in the progress of every epoch `< epoch`.
    fn fold_before(&mut self, maxima: &mut BTreeMap<Epoch, Vec<Progress>>, epoch: Epoch) {
        while let Some(entry) = maxima.first_entry() {
            if *entry.key() >= epoch {
                break;
            }
            let mut seen: Option<EventTime> = None;
            for p in entry.remove() {
                match p {
                    Progress::Seen(ts) => seen = Some(seen.map_or(ts, |s| s.max(ts))),
                    Progress::Clock(ms) => self.now = Some(self.now.map_or(ms, |n| n.max(ms))),
                }
            }
            if let Some(ts) = seen
                && self.effective_max().is_none_or(|m| ts > m)
            {
                self.base = Some(ts);
                self.raised_at = self.now;
            }
            if self.raised_at.is_none() {
                self.raised_at = self.now;
            }
        }
    }

    /// The maximum event time, advanced with the wall clock while idle.
    fn effective_max(&self) -> Option<EventTime> {
        let base = self.base?;
        let idle = match (self.idle_timeout_ms, self.raised_at, self.now) {
            (Some(timeout), Some(raised), Some(now)) => now.saturating_sub(raised).saturating_sub(timeout).max(0),
            _ => 0,
        };
        Some(base.saturating_add(idle))
    }

    fn watermark(&self) -> Option<EventTime> {
        self.effective_max().map(|m| m.saturating_sub(self.allowed_lateness_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(clock: &mut EventClock, epoch: Epoch, progress: Vec<Progress>) {
        let mut maxima = BTreeMap::from([(epoch, progress)]);
        clock.fold_before(&mut maxima, epoch + 1);
        assert!(maxima.is_empty());
    }

    #[test]
    fn idle_clock_advances_after_the_timeout_and_never_backwards() {
        let policy = LatenessPolicy {
            allowed_lateness_ms: 10,
            on_late: LatePolicy::DeadLetter,
            idle_timeout_ms: Some(1_000),
        };
        let mut clock = EventClock::new(&policy);
        assert_eq!(clock.watermark(), None);
        fold(&mut clock, 0, vec![Progress::Seen(500), Progress::Clock(10_000)]);
        assert_eq!(clock.watermark(), Some(490));
        fold(&mut clock, 1, vec![Progress::Clock(10_900)]);
        assert_eq!(clock.watermark(), Some(490), "within the idle timeout");
        fold(&mut clock, 2, vec![Progress::Clock(11_300)]);
        assert_eq!(clock.watermark(), Some(790), "300 ms past the timeout");
        fold(&mut clock, 3, vec![Progress::Seen(700), Progress::Clock(11_400)]);
        assert_eq!(clock.watermark(), Some(890), "an older record does not reset the clock");
        fold(&mut clock, 4, vec![Progress::Seen(5_000), Progress::Clock(11_500)]);
        assert_eq!(clock.watermark(), Some(4_990));
    }

    #[test]
    fn policy_defaults_and_serde() {
        let p: LatenessPolicy = serde_json::from_str(r#"{"on_late": "dead_letter"}"#).unwrap();
        assert_eq!(
            p,
            LatenessPolicy {
                allowed_lateness_ms: 0,
                on_late: LatePolicy::DeadLetter,
                idle_timeout_ms: None
            }
        );
    }
}
