//! The oracle harness: feed random updates epoch by epoch, and after each epoch compare the
//! operator's accumulated output with a recomputation from the accumulated input.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use differential_dataflow::ExchangeData;
use differential_dataflow::input::Input;
use proptest::prelude::*;
use tributary_engine::Collection;

pub mod workers;

/// A multiset: record → multiplicity (non-zero entries only).
pub type Multiset<D> = BTreeMap<D, isize>;

/// The operator under test.
pub type Build<D, O> = for<'a> fn(Collection<'a, D>) -> Collection<'a, O>;

/// Runs `build` over `epochs` of updates and calls `check(input, output)` after every epoch
/// with both accumulated to that point.
pub fn check_every_epoch<D, O>(
    epochs: Vec<Vec<(D, isize)>>,
    build: Build<D, O>,
    check: impl Fn(&Multiset<D>, &Multiset<O>) -> Result<(), TestCaseError> + Send + Sync + 'static,
) -> Result<(), TestCaseError>
where
    D: ExchangeData + Sync,
    O: ExchangeData,
{
    timely::execute_directly(move |worker| {
        let captured: Rc<RefCell<Vec<(O, u64, isize)>>> = Rc::default();
        let sink = captured.clone();
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, collection) = scope.new_collection::<D, isize>();
            let (probe, _) = build(collection)
                .inspect(move |update| sink.borrow_mut().push(update.clone()))
                .probe();
            (input, probe)
        });
        let mut accumulated_in: Multiset<D> = BTreeMap::new();
        let mut accumulated_out: Multiset<O> = BTreeMap::new();
        for (epoch, updates) in epochs.into_iter().enumerate() {
            for (record, diff) in updates {
                input.update(record.clone(), diff);
                add(&mut accumulated_in, record, diff);
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
            for (record, time, diff) in captured.borrow_mut().drain(..) {
                prop_assert!(time <= epoch as u64, "output at a future time");
                add(&mut accumulated_out, record, diff);
            }
            check(&accumulated_in, &accumulated_out)?;
        }
        Ok(())
    })
}

pub fn add<D: Ord>(set: &mut Multiset<D>, record: D, diff: isize) {
    let entry = set.entry(record).or_insert(0);
    *entry += diff;
    if *entry == 0 {
        set.retain(|_, n| *n != 0);
    }
}

/// A keyed event: `(key, (event_time, value))`.
pub type Event = (u8, (i64, i64));

/// Random epochs of insertions and retractions of keyed events.
///
/// Each event is inserted in some epoch and possibly retracted in a later one; event times
/// are random, so events arrive out of event-time order and some arrive "late" (after
/// events with greater timestamps); small domains force ties and duplicates.
pub fn keyed_events() -> impl Strategy<Value = Vec<Vec<(Event, isize)>>> {
    let event = (0u8..4, (0i64..50, -20i64..20));
    prop::collection::vec((event, 0usize..6, prop::option::of(0usize..4)), 0..80).prop_map(|plan| {
        let mut epochs: Vec<Vec<(Event, isize)>> = vec![Vec::new(); 11];
        for (event, inserted, retract_after) in plan {
            epochs[inserted].push((event, 1));
            if let Some(after) = retract_after {
                epochs[inserted + 1 + after].push((event, -1));
            }
        }
        epochs
    })
}

/// The present values of each key: `key → [(ts, value)]` with multiplicities expanded.
pub fn groups(input: &Multiset<Event>) -> BTreeMap<u8, Vec<(i64, i64)>> {
    let mut groups: BTreeMap<u8, Vec<(i64, i64)>> = BTreeMap::new();
    for ((key, tv), n) in input {
        for _ in 0..*n {
            groups.entry(*key).or_default().push(*tv);
        }
    }
    groups
}

/// A multiset holding each record once.
pub fn set_of<O: Ord>(records: impl IntoIterator<Item = O>) -> Multiset<O> {
    records.into_iter().map(|r| (r, 1)).collect()
}

/// Runs `build` on `workers` workers over `epochs` of updates — worker `i` inserts the updates
/// whose position in their epoch is `i` modulo `workers` — stepping until each epoch is done,
/// and returns the accumulated output at every epoch (`result[e]` holds every output update at
/// a time `<= e`). Unlike [`check_every_epoch`] it allows output at times after the latest
/// input (e.g. a watermark for the next epoch), and it exercises the exchange.
pub fn outputs_by_epoch<D, O>(workers: usize, epochs: Vec<Vec<(D, isize)>>, build: Build<D, O>) -> Vec<Multiset<O>>
where
    D: ExchangeData + Sync,
    O: ExchangeData,
{
    let captured: std::sync::Arc<std::sync::Mutex<Vec<(O, u64, isize)>>> = Default::default();
    let sink = captured.clone();
    let rounds = epochs.len();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let sink = sink.clone();
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, collection) = scope.new_collection::<D, isize>();
            let (probe, _) = build(collection)
                .inspect(move |update| sink.lock().expect("not poisoned").push(update.clone()))
                .probe();
            (input, probe)
        });
        let (index, peers) = (worker.index(), worker.peers());
        for (epoch, updates) in epochs.iter().enumerate() {
            for (record, diff) in updates.iter().skip(index).step_by(peers) {
                input.update(record.clone(), *diff);
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
        }
    });
    for result in guards.expect("timely starts").join() {
        result.expect("worker runs");
    }
    let updates = captured.lock().expect("not poisoned").clone();
    (0..rounds)
        .map(|epoch| {
            let mut set = BTreeMap::new();
            for (record, time, diff) in &updates {
                if *time <= epoch as u64 {
                    add(&mut set, record.clone(), *diff);
                }
            }
            set
        })
        .collect()
}
