//! The oracle harness on several workers: worker 0 feeds every update, the operators
//! exchange them, and worker 0 checks the output of all workers after every epoch.

use std::sync::{Arc, Mutex};

use differential_dataflow::ExchangeData;
use differential_dataflow::input::Input;
use proptest::prelude::*;

use super::{Build, Multiset, add};

/// As [`check_every_epoch`](super::check_every_epoch), on `workers` workers in one process.
pub fn check_every_epoch_on<D, O>(
    workers: usize,
    epochs: Vec<Vec<(D, isize)>>,
    build: Build<D, O>,
    check: impl Fn(&Multiset<D>, &Multiset<O>) -> Result<(), TestCaseError> + Send + Sync + 'static,
) -> Result<(), TestCaseError>
where
    D: ExchangeData + Sync,
    O: ExchangeData + Send,
{
    let captured: Arc<Mutex<Vec<(O, u64, isize)>>> = Arc::default();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let sink = captured.clone();
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, collection) = scope.new_collection::<D, isize>();
            let (probe, _) = build(collection)
                .inspect(move |update| sink.lock().expect("capture lock").push(update.clone()))
                .probe();
            (input, probe)
        });
        let feeder = worker.index() == 0;
        let mut accumulated_in: Multiset<D> = Multiset::new();
        let mut accumulated_out: Multiset<O> = Multiset::new();
        for (epoch, updates) in epochs.iter().enumerate() {
            if feeder {
                for (record, diff) in updates {
                    input.update(record.clone(), *diff);
                    add(&mut accumulated_in, record.clone(), *diff);
                }
            }
            input.advance_to(epoch as u64 + 1);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
            if feeder {
                // The probe has passed the epoch on every worker, so all output is captured.
                for (record, time, diff) in captured.lock().expect("capture lock").drain(..) {
                    prop_assert!(time <= epoch as u64, "output at a future time");
                    add(&mut accumulated_out, record, diff);
                }
                check(&accumulated_in, &accumulated_out)?;
            }
        }
        Ok(())
    })
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for result in guards.join() {
        result.map_err(TestCaseError::fail)??;
    }
    Ok(())
}
