//! Lateness against a sequential oracle: replay the epochs in order, judging each epoch's
//! updates by the watermark of all earlier epochs; on one and two workers; the idle timeout;
//! and state release (lateness buffers, compacted sessions).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use differential_dataflow::input::Input;
use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{LatePolicy, LatenessPolicy, SessionWindows, SplitLate};

use crate::oracle::{Event, Multiset, keyed_events, outputs_by_epoch};
use crate::windows::{Assigned, GAP, session_oracle};

/// `(0, record, 0)` on time, `(1, record, watermark)` late, `(2, _, watermark)` the watermark.
type Judged = (u8, Event, i64);

const NO_EVENT: Event = (0, (0, 0));

fn judged<const LATENESS: i64, const DEAD_LETTER: bool>(c: Collection<'_, Event>) -> Collection<'_, Judged> {
    let policy = LatenessPolicy {
        allowed_lateness_ms: LATENESS,
        on_late: if DEAD_LETTER {
            LatePolicy::DeadLetter
        } else {
            LatePolicy::Correct
        },
        idle_timeout_ms: None,
    };
    let split = c.split_late(&policy, |(_, (ts, _))| *ts);
    split
        .ok
        .map(|e| (0, e, 0))
        .concat(split.late.map(|(e, w)| (1, e, w)))
        .concat(split.watermark.map(|w| (2, NO_EVENT, w)))
}

/// Replays `epochs` in order: epoch `e` is judged by `max event time of epochs < e − lateness`.
fn oracle(epochs: &[Vec<(Event, isize)>], lateness: i64, dead_letter: bool) -> Vec<Multiset<Judged>> {
    let mut max: Option<i64> = None;
    let mut accumulated: BTreeMap<Judged, isize> = BTreeMap::new();
    let mut out = Vec::new();
    for updates in epochs {
        let watermark = max.map(|m| m - lateness);
        for (event, diff) in updates {
            let late = watermark.filter(|w| dead_letter && event.1.0 < *w);
            let judged = late.map_or((0, *event, 0), |w| (1, *event, w));
            *accumulated.entry(judged).or_insert(0) += diff;
        }
        for (event, _) in updates {
            max = Some(max.map_or(event.1.0, |m| m.max(event.1.0)));
        }
        let mut at_epoch = accumulated.clone();
        at_epoch.retain(|_, n| *n != 0);
        if let Some(w) = watermark {
            at_epoch.insert((2, NO_EVENT, w), 1);
        }
        out.push(at_epoch);
    }
    out
}

/// ok ∪ late is the input, at every epoch.
fn check_partition(epochs: &[Vec<(Event, isize)>], outputs: &[Multiset<Judged>]) -> Result<(), TestCaseError> {
    let mut input: Multiset<Event> = BTreeMap::new();
    for (updates, output) in epochs.iter().zip(outputs) {
        for (event, diff) in updates {
            *input.entry(*event).or_insert(0) += diff;
        }
        input.retain(|_, n| *n != 0);
        let mut union: Multiset<Event> = BTreeMap::new();
        for ((tag, event, _), n) in output {
            if *tag < 2 {
                *union.entry(*event).or_insert(0) += n;
            }
        }
        union.retain(|_, n| *n != 0);
        prop_assert_eq!(&union, &input);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn dead_letter_matches_sequential_oracle(epochs in keyed_events()) {
        let outputs = outputs_by_epoch(1, epochs.clone(), judged::<0, true>);
        prop_assert_eq!(&outputs, &oracle(&epochs, 0, true));
        check_partition(&epochs, &outputs)?;
        let outputs = outputs_by_epoch(1, epochs.clone(), judged::<7, true>);
        prop_assert_eq!(&outputs, &oracle(&epochs, 7, true));
    }

    #[test]
    fn correct_passes_everything_and_still_reports_the_watermark(epochs in keyed_events()) {
        let outputs = outputs_by_epoch(1, epochs.clone(), judged::<3, false>);
        prop_assert_eq!(&outputs, &oracle(&epochs, 3, false));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Each worker sees half of each epoch; the broadcast maxima make them agree.
    #[test]
    fn two_workers_make_the_same_decisions(epochs in keyed_events()) {
        let outputs = outputs_by_epoch(2, epochs.clone(), judged::<3, true>);
        prop_assert_eq!(&outputs, &oracle(&epochs, 3, true));
        check_partition(&epochs, &outputs)?;
    }
}

/// Sessions over the on-time records of a dead-lettering split, released as the watermark
/// passes them: the assignments must equal the oracle's over the on-time records.
fn compacted_sessions(c: Collection<'_, Event>) -> Collection<'_, Assigned> {
    let policy = LatenessPolicy {
        allowed_lateness_ms: 3,
        on_late: LatePolicy::DeadLetter,
        idle_timeout_ms: None,
    };
    let split = c.split_late(&policy, |(_, (ts, _))| *ts);
    split.ok.session_windows_compacted(GAP, split.watermark).windows
}

fn check_compacted(epochs: &[Vec<(Event, isize)>], outputs: &[Multiset<Assigned>]) -> Result<(), TestCaseError> {
    for (judged, output) in oracle(epochs, 3, true).iter().zip(outputs) {
        let on_time: Multiset<Event> = judged
            .iter()
            .filter(|((tag, _, _), _)| *tag == 0)
            .map(|((_, event, _), n)| (*event, *n))
            .collect();
        prop_assert_eq!(output, &session_oracle(&on_time));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn compacted_sessions_match_oracle_over_on_time_records(epochs in keyed_events(), workers in 1usize..3) {
        let outputs = outputs_by_epoch(workers, epochs.clone(), compacted_sessions);
        check_compacted(&epochs, &outputs)?;
    }
}

/// Runs a dead-lettering split with `idle_timeout_ms` over: 1,000 at epoch 0, three empty
/// epochs 40 ms apart, then 1,010 at epoch 4; returns the late records and the final watermark.
fn idle_run(idle_timeout_ms: Option<i64>) -> (Vec<Event>, Option<i64>) {
    timely::execute_directly(move |worker| {
        let policy = LatenessPolicy {
            allowed_lateness_ms: 0,
            on_late: LatePolicy::DeadLetter,
            idle_timeout_ms,
        };
        let late: Rc<RefCell<Vec<Event>>> = Rc::default();
        let marks: Rc<RefCell<BTreeMap<i64, isize>>> = Rc::default();
        let (late_sink, mark_sink) = (late.clone(), marks.clone());
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, c) = scope.new_collection::<Event, isize>();
            let split = c.split_late(&policy, |(_, (ts, _))| *ts);
            let (probe, _) = split.ok.probe();
            split
                .late
                .inspect(move |((e, _), _, _)| late_sink.borrow_mut().push(*e))
                .probe_with(&probe);
            split
                .watermark
                .inspect(move |(w, _, r)| *mark_sink.borrow_mut().entry(*w).or_insert(0) += r)
                .probe_with(&probe);
            (input, probe)
        });
        input.insert((0, (1_000, 0)));
        for epoch in 1..=4 {
            input.advance_to(epoch);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
            std::thread::sleep(Duration::from_millis(40));
        }
        input.insert((0, (1_010, 1)));
        input.advance_to(5);
        input.flush();
        worker.step_while(|| probe.less_than(input.time()));
        let watermark = marks.borrow().iter().find(|(_, n)| **n > 0).map(|(w, _)| *w);
        (late.borrow().clone(), watermark)
    })
}

#[test]
fn idle_timeout_advances_the_watermark_with_the_wall_clock() {
    let (late, watermark) = idle_run(None);
    assert!(late.is_empty(), "no idle timeout: the watermark stays at 1,000");
    assert_eq!(watermark, Some(1_010));
    let (late, watermark) = idle_run(Some(0));
    assert_eq!(
        late,
        [(0, (1_010, 1))],
        "three idle epochs of 40 ms moved the watermark past 1,010"
    );
    assert!(watermark.is_some_and(|w| w >= 1_120), "{watermark:?}");
}

#[test]
fn buffers_are_released_and_closed_sessions_compacted() {
    timely::execute_directly(|worker| {
        let policy = LatenessPolicy {
            on_late: LatePolicy::DeadLetter,
            ..LatenessPolicy::default()
        };
        let sessions: Rc<RefCell<Multiset<Assigned>>> = Rc::default();
        let late: Rc<RefCell<Vec<Event>>> = Rc::default();
        let (session_sink, late_sink) = (sessions.clone(), late.clone());
        let (mut input, probe, split_state, session_state) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, c) = scope.new_collection::<Event, isize>();
            let split = c.split_late(&policy, |(_, (ts, _))| *ts);
            split
                .late
                .inspect(move |((e, _), _, _)| late_sink.borrow_mut().push(*e));
            let compacted = split.ok.session_windows_compacted(GAP, split.watermark);
            let (probe, _) = compacted
                .windows
                .inspect(move |(x, _, r)| *session_sink.borrow_mut().entry(*x).or_insert(0) += r)
                .probe();
            (input, probe, split.state, compacted.state)
        });
        let mut on_time: Multiset<Event> = BTreeMap::new();
        for epoch in 0..40i64 {
            for key in 0..4u8 {
                // Each key: a session of two events per epoch; the watermark (the previous
                // epoch's maximum) closes it two epochs later, so 2 × 2 × 4 event times stay.
                for ts in [epoch * 10, epoch * 10 + 2] {
                    input.insert((key, (ts, epoch)));
                    *on_time.entry((key, (ts, epoch))).or_insert(0) += 1;
                }
            }
            if epoch == 20 {
                input.insert((0, (5, -1))); // far behind: dead-lettered
            }
            input.flush();
            for _ in 0..5 {
                worker.step();
            }
            if epoch == 0 {
                assert!(
                    split_state.get() > 0,
                    "the open epoch's records wait for their judgement"
                );
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
            assert_eq!(split_state.get(), 0, "nothing is held once an epoch is decided");
            assert!(
                session_state.get() <= 16,
                "epoch {epoch}: {} event times held",
                session_state.get()
            );
        }
        assert_eq!(*late.borrow(), [(0, (5, -1))]);
        assert_eq!(*sessions.borrow(), session_oracle(&on_time));
    });
}
