//! The batch side: the generated events as Arrow tables `person`, `auction`, `bid` in a
//! DataFusion context, SQL answers as typed rows, and the check that compares them with a
//! streaming run.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::datatypes::FieldRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_arrow::schema::{SchemaLike, TracingOptions};
use tributary_engine::source::{Source, SourceOutput, SourceReader, SourceStatus, WorkerInfo};
use tributary_engine::{EngineError, RuntimeConfig};
use tributary_nexmark::run::{QueryFn, collect};
use tributary_nexmark::{Event, NexmarkConfig, NexmarkGenerator};

/// A generator of `events` events with `seed`, `events_per_second` of event time.
pub fn generator(events: u64, seed: u64, events_per_second: u64) -> NexmarkGenerator {
    NexmarkGenerator::try_new(NexmarkConfig {
        events,
        seed,
        events_per_second,
        ..NexmarkConfig::default()
    })
    .expect("a valid generator configuration")
}

/// One Arrow batch of `rows`, with the schema serde derives from `T` (times as BIGINT ms).
fn batch<T: Serialize + DeserializeOwned>(rows: &[T]) -> RecordBatch {
    let fields =
        Vec::<FieldRef>::from_type::<T>(TracingOptions::default()).expect("an Arrow schema for the event type");
    serde_arrow::to_record_batch(&fields, &rows).expect("events convert to Arrow")
}

/// `events` as the tables `person`, `auction` and `bid`.
pub fn tables(events: impl IntoIterator<Item = Event>) -> SessionContext {
    let (mut people, mut auctions, mut bids) = (Vec::new(), Vec::new(), Vec::new());
    for event in events {
        match event {
            Event::Person(p) => people.push(p),
            Event::Auction(a) => auctions.push(a),
            Event::Bid(b) => bids.push(b),
        }
    }
    let ctx = SessionContext::new();
    let tables = [
        ("person", batch(&people)),
        ("auction", batch(&auctions)),
        ("bid", batch(&bids)),
    ];
    for (name, batch) in tables {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).expect("a memory table");
        ctx.register_table(name, Arc::new(table)).expect("a fresh table name");
    }
    ctx
}

/// A bounded source of given events, split across workers by index like the generator.
#[derive(Debug, Clone)]
pub struct Fixed(pub Arc<Vec<Event>>);

impl Source<Event> for Fixed {
    fn describe(&self) -> String {
        format!("fixed({} events)", self.0.len())
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<Event>>, EngineError> {
        let mine = self
            .0
            .iter()
            .skip(worker.index)
            .step_by(worker.peers)
            .cloned()
            .collect();
        Ok(Box::new(FixedReader(Some(mine))))
    }
}

struct FixedReader(Option<Vec<Event>>);

impl SourceReader<Event> for FixedReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, Event>, _budget: usize) -> SourceStatus {
        self.0.take().into_iter().flatten().for_each(|e| out.give(e));
        SourceStatus::Finished
    }
}

/// The answer to `sql` as rows of `R` (columns matched by name), sorted.
pub fn sql<R: DeserializeOwned + Ord>(ctx: &SessionContext, sql: &str) -> Vec<R> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let batches = runtime
        .block_on(async { ctx.sql(sql).await?.collect().await })
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut rows = Vec::new();
    for batch in &batches {
        rows.extend(serde_arrow::from_record_batch::<Vec<R>>(batch).expect("SQL rows of the query's row type"));
    }
    rows.sort();
    rows
}

/// Runs `query` to completion on `workers` workers over the generator's events and checks
/// its final result against `expected_sql` over the same events; returns the number of
/// rows, so callers can check the case was not vacuous.
pub fn check<R>(query: QueryFn<R>, expected_sql: &str, generator: &NexmarkGenerator, workers: usize) -> usize
where
    R: Ord + Clone + Debug + Send + DeserializeOwned + 'static,
{
    let events = generator.events(generator.config().events);
    check_source(query, expected_sql, generator, events, workers)
}

/// As [`check`], for any `source` whose events are `events`.
pub fn check_source<R, S>(
    query: QueryFn<R>,
    expected_sql: &str,
    source: &S,
    events: impl IntoIterator<Item = Event>,
    workers: usize,
) -> usize
where
    R: Ord + Clone + Debug + Send + DeserializeOwned + 'static,
    S: Source<Event> + Clone,
{
    let streamed = collect(query, source, RuntimeConfig::with_workers(workers)).expect("the streaming run");
    let expected: Vec<R> = sql(&tables(events), expected_sql);
    assert_eq!(
        streamed.len(),
        expected.len(),
        "row count, {workers} workers, {}",
        source.describe()
    );
    if let Some((i, (got, want))) = streamed.iter().zip(&expected).enumerate().find(|(_, (a, b))| a != b) {
        panic!("row {i} differs: streamed {got:?}, SQL {want:?} ({workers} workers)");
    }
    streamed.len()
}
