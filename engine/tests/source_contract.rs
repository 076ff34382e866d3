//! The source contract, end to end on a real runtime: rejects reach the dead-letter queue and
//! the counters reconcile; `processed(frontier)` is called while the pipeline runs, never goes
//! backwards and ends with `Epoch::MAX` after the drain; HTTP ingest answers with a ticket
//! that the catalog's `as_of` reaches with the records applied.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use differential_dataflow::operators::CountTotal;
use serde::{Deserialize, Serialize};
use tributary_engine::record::DecodeError;
use tributary_engine::source::*;
use tributary_engine::{EngineError, Epoch, Pipeline, Runtime, RuntimeConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    key: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyCount {
    key: i64,
    count: i64,
}

/// The frontiers each worker's reader was told about, in order.
type Observations = Arc<Mutex<[Vec<Epoch>; 2]>>;

/// Emits `per_worker` events (keys 0..10) in polls of 7, one malformed record per poll.
struct Events {
    per_worker: u64,
    seen: Observations,
}

struct EventsReader {
    worker: usize,
    next: u64,
    end: u64,
    seen: Observations,
}

impl Source<Event> for Events {
    fn describe(&self) -> String {
        "events".into()
    }
    fn open(&self, w: WorkerInfo) -> Result<Box<dyn SourceReader<Event>>, EngineError> {
        Ok(Box::new(EventsReader {
            worker: w.index,
            next: 0,
            end: self.per_worker,
            seen: self.seen.clone(),
        }))
    }
}

impl SourceReader<Event> for EventsReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, Event>, _budget: usize) -> SourceStatus {
        for _ in 0..7 {
            if self.next == self.end {
                return SourceStatus::Finished;
            }
            out.give(Event {
                key: (self.next % 10) as i64,
            });
            self.next += 1;
        }
        out.reject(
            SourcePosition::Generator { index: self.next },
            b"{oops",
            &DecodeError::Malformed("expected value".into()),
        );
        SourceStatus::Ready
    }

    fn processed(&mut self, frontier: Epoch) {
        self.seen.lock().expect("not poisoned")[self.worker].push(frontier);
    }
}

/// Events counted per key into the projection `counts`.
fn pipeline<S: Source<Event> + ?Sized>(p: &mut Pipeline<'_>, source: &S) -> Result<(), EngineError> {
    let counts = p
        .source("events", source)?
        .map(|e: Event| e.key)
        .count_total()
        .map(|(key, count)| KeyCount {
            key,
            count: count as i64,
        });
    p.projection("counts", counts, |row| row.key)
}

#[test]
fn rejects_are_dead_lettered_and_processed_follows_the_projection() -> anyhow::Result<()> {
    let seen: Observations = Arc::default();
    let source = Events {
        per_worker: 700,
        seen: seen.clone(),
    };
    // Small epochs so the run spans many of them.
    let config = RuntimeConfig {
        epoch_max_records: 50,
        ..RuntimeConfig::with_workers(2)
    };
    let run = Runtime::start(config, move |p| pipeline(p, &source))?;
    let counters = run.counters();
    let dead_letters = run.dead_letters();
    let catalog = run.catalog();
    run.join()?;

    let snap = counters.snapshot()["events"];
    assert_eq!(snap.accepted, 1_400);
    assert_eq!(snap.dead_lettered, 200, "one reject per poll of 7, per worker");
    assert_eq!(snap.received, snap.accepted + snap.dead_lettered);
    let recent = dead_letters.recent();
    assert_eq!(recent.len(), 200);
    assert!(
        recent
            .iter()
            .all(|l| l.kind == RejectKind::MalformedJson && l.raw == b"{oops" && l.stream == "events")
    );

    let table = catalog.read().table("counts").expect("registered").snapshot()?;
    assert_eq!(table.num_rows(), 10);

    for frontiers in seen.lock().unwrap().iter() {
        assert_eq!(frontiers.last(), Some(&Epoch::MAX), "the drain ends with Epoch::MAX");
        assert!(
            frontiers.iter().filter(|f| **f < Epoch::MAX).count() >= 2,
            "told while running, not only at the end: {frontiers:?}"
        );
        assert!(
            frontiers.windows(2).all(|w| w[0] < w[1]),
            "frontiers go forward: {frontiers:?}"
        );
    }
    Ok(())
}

/// A source that never emits and never ends: the stream is fed by HTTP ingest alone.
struct IngestOnly;

impl Source<Event> for IngestOnly {
    fn describe(&self) -> String {
        "ingest only".into()
    }
    fn open(&self, _: WorkerInfo) -> Result<Box<dyn SourceReader<Event>>, EngineError> {
        Ok(Box::new(IngestOnly))
    }
}

impl SourceReader<Event> for IngestOnly {
    fn poll(&mut self, _: &mut SourceOutput<'_, Event>, _: usize) -> SourceStatus {
        SourceStatus::Idle
    }
}

#[test]
fn ingest_tickets_are_reached_with_the_records_applied_and_closed_streams_refuse() -> anyhow::Result<()> {
    use tributary_engine::ingest::IngestError;
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let run = Runtime::start(RuntimeConfig::with_workers(2), |p| pipeline(p, &IngestOnly))?;
    let endpoint = run.ingest().endpoint("events")?;
    assert!(matches!(run.ingest().endpoint("nope"), Err(IngestError::UnknownStream(s)) if s == "nope"));

    let body = b"{\"key\": 1}\n{\"key\": \"x\"}\n[{\"key\": 2}]\n{\"key\": 1}";
    let report = rt.block_on(endpoint.ingest(body)?.wait(Duration::from_secs(10)))?;
    assert_eq!((report.accepted, report.rejected), (2, 2), "{report:?}");
    assert_eq!(report.errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3]);
    assert!(report.ticket > 0);

    let catalog = run.catalog();
    let as_of = catalog.wait_beyond(report.ticket - 1, Duration::from_secs(10));
    assert!(as_of >= report.ticket);
    let read = catalog.read();
    let table = read.table("counts").expect("registered").snapshot()?;
    assert_eq!(table.num_rows(), 1, "key 1 only");
    drop(read);

    let snap = run.counters().snapshot()["events"];
    assert_eq!((snap.received, snap.accepted, snap.dead_lettered), (4, 2, 2));
    let positions: Vec<_> = run.dead_letters().recent().into_iter().map(|l| l.position).collect();
    assert_eq!(
        positions,
        [
            SourcePosition::Http { request: 0, line: 2 },
            SourcePosition::Http { request: 0, line: 3 }
        ]
    );

    let empty = rt.block_on(endpoint.ingest(b"  \n")?.wait(Duration::from_secs(1)))?;
    assert_eq!((empty.accepted, empty.rejected, empty.ticket), (0, 0, 0));

    run.shutdown()?;
    assert!(matches!(endpoint.ingest(b"{\"key\": 3}"), Err(IngestError::Closed(_))));
    Ok(())
}

/// Ten events per worker, keys 0..10, in one poll.
struct Ten;

impl Source<Event> for Ten {
    fn describe(&self) -> String {
        "ten".into()
    }
    fn open(&self, _: WorkerInfo) -> Result<Box<dyn SourceReader<Event>>, EngineError> {
        Ok(Box::new(TenReader(true)))
    }
}

struct TenReader(bool);

impl SourceReader<Event> for TenReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, Event>, _budget: usize) -> SourceStatus {
        if std::mem::take(&mut self.0) {
            (0..10).for_each(|key| out.give(Event { key }));
        }
        SourceStatus::Finished
    }
}

#[test]
fn late_records_are_dead_lettered_and_counted_apart() -> anyhow::Result<()> {
    let run = Runtime::start(RuntimeConfig::with_workers(2), |p| {
        // Stand-in for a lateness operator: keys (as event times) below 3 are "behind the
        // watermark 3"; a retraction of key 0 is late too.
        let events = p.source("ten", &Ten)?;
        let late = events
            .clone()
            .filter(|e| e.key < 3)
            .concat(events.filter(|e| e.key == 0).negate())
            .map(|e| (e, 3i64));
        p.dead_letter_late("ten", late, |e: &Event| e.key);
        Ok(())
    })?;
    let dead_letters = run.dead_letters();
    let counters = run.counters();
    run.join()?;
    let snap = counters.snapshot()["ten"];
    assert_eq!((snap.received, snap.accepted, snap.dead_lettered), (20, 20, 0));
    assert_eq!(snap.late, 8, "keys 0, 1, 2 and the retraction of 0, on two workers");
    let mut reasons: Vec<(String, String)> = dead_letters
        .recent()
        .into_iter()
        .map(|l| {
            assert_eq!(l.kind, RejectKind::Late);
            assert!(matches!(l.position, SourcePosition::Dataflow { .. }));
            (String::from_utf8_lossy(&l.raw).into_owned(), l.reason)
        })
        .collect();
    reasons.sort();
    reasons.dedup();
    assert_eq!(
        reasons,
        [
            (
                "{\"key\":0}".to_string(),
                "event time 0 ms is 3 ms behind the watermark 3".to_string()
            ),
            (
                "{\"key\":0}".to_string(),
                "retraction: event time 0 ms is 3 ms behind the watermark 3".to_string()
            ),
            (
                "{\"key\":1}".to_string(),
                "event time 1 ms is 2 ms behind the watermark 3".to_string()
            ),
            (
                "{\"key\":2}".to_string(),
                "event time 2 ms is 1 ms behind the watermark 3".to_string()
            ),
        ]
    );
    Ok(())
}
