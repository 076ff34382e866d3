//! Backpressure between workers whose loops run at different speeds: a worker held back by
//! `max_epochs_in_flight` must poll again once the slower worker's epochs catch up.
//!
//! Each worker cuts epochs on its own clock. A worker stalled by backpressure used to keep
//! cutting clock epochs without polling, so its epoch ran ahead as fast as the slower worker's
//! did and it never got within `max_epochs_in_flight` of the frontier again: its share of
//! every source stopped for good while `as_of` kept advancing (found by `examples/sql_load`,
//! whose preload stopped at 635K–762K of 1M keys and whose live ingest ran at half its rate).

use std::thread::sleep;
use std::time::{Duration, Instant};

use differential_dataflow::operators::CountTotal;
use serde::{Deserialize, Serialize};
use tributary_engine::source::*;
use tributary_engine::{EngineError, Pipeline, Runtime, RuntimeConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    key: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyCount {
    key: i64,
    count: i64,
}

/// Worker 0 emits `keys` events one per short poll; worker 1 emits nothing and never ends,
/// but each of its polls takes long, so its loop (and its epoch clock) turns slowly.
struct Uneven {
    keys: u64,
}

struct FastReader {
    next: u64,
    end: u64,
}

struct SlowReader;

impl Source<Event> for Uneven {
    fn describe(&self) -> String {
        "uneven".into()
    }
    fn open(&self, w: WorkerInfo) -> Result<Box<dyn SourceReader<Event>>, EngineError> {
        Ok(if w.index == 0 {
            Box::new(FastReader {
                next: 0,
                end: self.keys,
            })
        } else {
            Box::new(SlowReader)
        })
    }
}

impl SourceReader<Event> for FastReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, Event>, _budget: usize) -> SourceStatus {
        if self.next == self.end {
            return SourceStatus::Finished;
        }
        // Slow enough that the epoch gap to worker 1 outgrows `max_epochs_in_flight` long
        // before the last event.
        sleep(Duration::from_millis(2));
        out.give(Event { key: self.next as i64 });
        self.next += 1;
        SourceStatus::Ready
    }
}

impl SourceReader<Event> for SlowReader {
    fn poll(&mut self, _: &mut SourceOutput<'_, Event>, _: usize) -> SourceStatus {
        sleep(Duration::from_millis(40));
        SourceStatus::Idle
    }
}

#[test]
fn a_worker_held_back_by_backpressure_polls_again_when_the_slow_worker_catches_up() -> anyhow::Result<()> {
    let keys = 150;
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p: &mut Pipeline<'_>| {
        let counts = p
            .source("uneven", &Uneven { keys })?
            .map(|e: Event| e.key)
            .count_total()
            .map(|(key, count)| KeyCount {
                key,
                count: count as i64,
            });
        p.projection("counts", counts, |row| row.key)
    })?;
    let catalog = run.catalog();
    let counters = run.counters();
    // Not a timing assertion: with the fix this takes a few seconds; without it worker 0
    // stops for good after about 50 events, and the deadline only ends the wait.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rows = 0;
    while Instant::now() < deadline {
        let as_of = catalog.as_of();
        rows = catalog.read().table("counts").map_or(0, |t| t.row_count());
        if rows == keys as usize {
            break;
        }
        catalog.wait_beyond(as_of, Duration::from_millis(100));
    }
    let accepted = counters.snapshot()["uneven"].accepted;
    run.shutdown()?;
    assert_eq!(
        rows, keys as usize,
        "worker 0 stopped polling: {accepted} of {keys} events accepted"
    );
    Ok(())
}
