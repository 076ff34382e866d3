//! The pipeline builder: how a user's program declares sources, operators and projections.
//!
//! A pipeline is a function `Fn(&mut Pipeline) -> Result<(), EngineError>` that the runtime
//! calls once on every worker to build that worker's copy of the dataflow. Inside it,
//! [`Pipeline::source`] turns a [`Source`] into a differential [`Collection`] of the user's
//! own type, ordinary differential/Tributary operators transform it, and
//! [`Pipeline::projection`] makes a collection readable by SQL:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use tributary_engine::{Pipeline, EngineError, source::*};
//!
//! #[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
//! struct Click { user: i64 }
//!
//! /// Ten clicks per user, for users 0..3.
//! struct Clicks;
//! impl Source<Click> for Clicks {
//!     fn describe(&self) -> String { "clicks".into() }
//!     fn open(&self, w: WorkerInfo) -> Result<Box<dyn SourceReader<Click>>, EngineError> {
//!         let mine: Vec<Click> = (0..30).filter(|i| i % w.peers == w.index).map(|i| Click { user: (i % 3) as i64 }).collect();
//!         Ok(Box::new(Once(Some(mine))))
//!     }
//! }
//! struct Once(Option<Vec<Click>>);
//! impl SourceReader<Click> for Once {
//!     fn poll(&mut self, out: &mut SourceOutput<'_, Click>, _budget: usize) -> SourceStatus {
//!         self.0.take().into_iter().flatten().for_each(|c| out.give(c));
//!         SourceStatus::Finished
//!     }
//! }
//!
//! #[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
//! struct ClicksPerUser { user: i64, clicks: i64 }
//!
//! fn pipeline(p: &mut Pipeline<'_>) -> Result<(), EngineError> {
//!     use differential_dataflow::operators::CountTotal;
//!     let per_user = p
//!         .source("clicks", &Clicks)?
//!         .map(|c| c.user)
//!         .count_total()
//!         .map(|(user, clicks)| ClicksPerUser { user, clicks: clicks as i64 });
//!     p.projection("clicks_per_user", per_user, |row| row.user)
//! }
//!
//! let run = tributary_engine::Runtime::start(tributary_engine::RuntimeConfig::with_workers(2), pipeline)?;
//! let catalog = run.catalog();
//! run.join()?; // a bounded source: runs to completion
//! let table = catalog.read().table("clicks_per_user").expect("registered");
//! assert_eq!(table.row_count(), 3);
//! # Ok::<(), EngineError>(())
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use differential_dataflow::{AsCollection, VecCollection};
use serde::Serialize;
use serde::de::DeserializeOwned;
use timely::dataflow::operators::Input;
use timely::dataflow::{ProbeHandle, Scope};

use crate::EngineError;
use crate::delivery::{ActionRecord, ActionSink, DELIVERY_HISTORY_STREAM, DeliveryExport};
use crate::export::{ExportConsumer, attach_export};
use crate::history::history_schema;
use crate::ingest::TypedEndpoint;
use crate::live::attach_projection_sink;
use crate::record::{JsonDecoder, derive_arrow_fields};
use crate::runtime::{DrivenInput, HistoryTap, InputDriver, Services, StreamBookkeeping};
use crate::source::{DeadLetter, RejectKind, Source, SourcePosition, StreamSpec, WorkerInfo};
use crate::time::{Epoch, EventTime};

/// A differential collection in a Tributary dataflow: records of type `D`, epochs as time.
pub type Collection<'scope, D, R = isize> = VecCollection<'scope, Epoch, D, R>;

/// How a projection is exposed to SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionSpec {
    name: String,
    timestamp_ms_columns: Vec<String>,
    key_columns: Vec<String>,
}

impl ProjectionSpec {
    /// A projection called `name` (its SQL table name).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            timestamp_ms_columns: Vec::new(),
            key_columns: Vec::new(),
        }
    }

    /// Names the columns whose values, in this order, make the projection's key, so SQL
    /// filters `col = v` and `col IN (...)` on all of them are answered by key lookups
    /// instead of a scan.
    ///
    /// The key function must then return exactly those values: the SQL layer builds the key
    /// from the filter's literals with serde (`K: Deserialize`), one column's value for a key
    /// of one column, a JSON array of the values for a key of several (a tuple key
    /// `(i64, String)` for columns `["a", "b"]`). Each column must be one of the row's.
    pub fn with_key_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.key_columns.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Marks `i64` fields holding epoch milliseconds so SQL sees them as `TIMESTAMP`.
    pub fn with_timestamp_ms<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.timestamp_ms_columns.extend(columns.into_iter().map(Into::into));
        self
    }
}

impl From<&str> for ProjectionSpec {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

/// One worker's view of the pipeline under construction.
pub struct Pipeline<'scope> {
    scope: Scope<'scope, Epoch>,
    worker: WorkerInfo,
    services: Services,
    probe: ProbeHandle<Epoch>,
    inputs: Vec<Box<dyn DrivenInput>>,
    names: BTreeSet<String>,
}

impl std::fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("worker", &self.worker)
            .field("names", &self.names)
            .finish()
    }
}

impl<'scope> Pipeline<'scope> {
    pub(crate) fn new(scope: Scope<'scope, Epoch>, worker: WorkerInfo, services: Services) -> Self {
        Self {
            scope,
            worker,
            services,
            probe: ProbeHandle::new(),
            inputs: Vec::new(),
            names: BTreeSet::new(),
        }
    }

    /// The worker this copy of the pipeline runs on.
    pub fn worker(&self) -> WorkerInfo {
        self.worker
    }

    /// The timely scope, for building operators directly.
    pub fn scope(&self) -> Scope<'scope, Epoch> {
        self.scope
    }

    /// Declares the stream `name`, read from `source`, as a collection of `T`.
    ///
    /// The stream is also open to HTTP ingest (`POST /v1/ingest/<name>`, JSON decoded into
    /// `T`) for as long as `source` runs; see [`crate::ingest`]. With history on, its
    /// history is partitioned by ingest time; [`source_with`](Self::source_with) says how
    /// to read event time instead.
    pub fn source<T, S>(&mut self, name: &str, source: &S) -> Result<Collection<'scope, T>, EngineError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + 'static,
        S: Source<T> + ?Sized,
    {
        self.source_with(StreamSpec::new(name), source)
    }

    /// Declares the stream `spec` names, read from `source`, as a collection of `T`; like
    /// [`source`](Self::source), with the stream's event time for history partitioning.
    ///
    /// With history on, the reader is opened with [`Source::open_resuming`] at the position
    /// history recorded, and the records history already holds for this worker are replayed
    /// first (see [`crate::history::recovery`]).
    pub fn source_with<T, S>(&mut self, spec: StreamSpec<T>, source: &S) -> Result<Collection<'scope, T>, EngineError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + 'static,
        S: Source<T> + ?Sized,
    {
        let name = spec.name.as_str();
        if name == DELIVERY_HISTORY_STREAM {
            return Err(EngineError::ReservedName {
                kind: "stream",
                name: name.to_string(),
                why: "history records action deliveries under it",
            });
        }
        self.claim("stream", name)?;
        let history = match &self.services.history {
            Some(store) => {
                let schema = history_schema(&derive_arrow_fields::<T>(&[])?);
                let writer = store.open(name, self.worker, schema.clone())?;
                Some(HistoryTap::new(name, schema, writer, spec.event_time.clone()))
            }
            None => None,
        };
        let (handle, stream) = self.scope.new_input::<Vec<(T, Epoch, isize)>>();
        // With history, the reader resumes where history ends, after replaying what it holds.
        let recovery = self.services.recovery.as_deref();
        let (reader, replay) = if history.is_some() {
            let resume = recovery.and_then(|r| r.checkpoint(name, self.worker));
            let replay = match recovery {
                Some(r) => r.records::<T>(name, self.worker)?,
                None => Vec::new(),
            };
            (source.open_resuming(self.worker, resume.as_ref())?, replay)
        } else {
            (source.open(self.worker)?, Vec::new())
        };
        tracing::debug!(worker = self.worker.index, stream = name, source = %source.describe(), "source opened");
        let counters = self.services.counters.stream(name);
        let link = self
            .services
            .health
            .sources()
            .register(name, source.describe(), counters.clone());
        let dead_letters = self.services.dead_letters.clone();
        let endpoint = self.services.ingest.register(name, || {
            TypedEndpoint::new(name, JsonDecoder::default(), counters.clone(), dead_letters.clone())
        });
        let queue = endpoint.map(|e| e.queue.clone());
        self.inputs.push(Box::new(InputDriver::new(
            name,
            handle,
            reader,
            queue,
            StreamBookkeeping {
                counters,
                dead_letters,
                link,
            },
            history,
            replay,
        )));
        Ok(stream.as_collection())
    }

    /// Makes `rows` readable by SQL as the table `spec` names, indexed by `key`.
    ///
    /// The Arrow schema comes from `P`'s serde shape. Rows are applied to the live table at
    /// the pipeline's consistent frontier (see [`LiveCatalog`]).
    pub fn projection<K, P, F>(
        &mut self,
        spec: impl Into<ProjectionSpec>,
        rows: Collection<'scope, P>,
        key: F,
    ) -> Result<(), EngineError>
    where
        K: Ord + Clone + DeserializeOwned + Send + Sync + 'static,
        P: Serialize + DeserializeOwned + PartialEq + Clone + Send + Sync + 'static,
        F: Fn(&P) -> K + 'static,
    {
        let spec = spec.into();
        self.claim("projection", &spec.name)?;
        let columns: Vec<&str> = spec.timestamp_ms_columns.iter().map(String::as_str).collect();
        let fields = derive_arrow_fields::<P>(&columns)?;
        if let Some(column) = spec.key_columns.iter().find(|c| !fields.iter().any(|f| f.name() == *c)) {
            return Err(EngineError::UnknownKeyColumn {
                projection: spec.name.clone(),
                column: column.clone(),
            });
        }
        let table = self
            .services
            .catalog
            .register_keyed::<K, P>(&spec.name, fields, spec.key_columns.clone())?;
        let keyed = rows.map(move |p| (key(&p), p)).probe_with(&self.probe);
        attach_projection_sink(keyed, table, self.services.catalog.clone(), self.worker.index);
        Ok(())
    }

    /// Writes every update of `late` to the dead-letter queue as kind `late`, for `stream`.
    ///
    /// `late` holds `(record, watermark)` pairs, as split off by a lateness operator (see
    /// `tributary_operators::SplitLate`); `event_time` reads the record's event time for the
    /// reason, "event time X ms is Y ms behind the watermark Z". The raw bytes are the record
    /// as JSON; the position is [`SourcePosition::Dataflow`] with the epoch of the judgement.
    /// A late retraction (negative difference) is written too, its reason prefixed with
    /// "retraction: ", once per unit of difference.
    ///
    /// Each letter counts once in the stream's `late` counter, not in `dead_lettered`: the
    /// record was already received and accepted, so `received = accepted + dead_lettered`
    /// keeps holding and `accepted − late` is what the projections applied.
    pub fn dead_letter_late<T, F>(&mut self, stream: &str, late: Collection<'scope, (T, EventTime)>, event_time: F)
    where
        T: Serialize + Clone + 'static,
        F: Fn(&T) -> EventTime + 'static,
    {
        let counters = self.services.counters.stream(stream);
        let dead_letters = self.services.dead_letters.clone();
        let stream = stream.to_string();
        let replayed = self.replayed_epochs();
        late.inspect(move |((record, watermark), epoch, diff)| {
            // The run that first judged a replayed epoch dead-lettered its late records.
            if *epoch < replayed {
                return;
            }
            let ts = event_time(record);
            let behind = i128::from(*watermark) - i128::from(ts);
            let reason = format!("event time {ts} ms is {behind} ms behind the watermark {watermark}");
            let reason = if *diff < 0 {
                format!("retraction: {reason}")
            } else {
                reason
            };
            let raw = serde_json::to_vec(record).unwrap_or_else(|e| format!("unserialisable record: {e}").into_bytes());
            for _ in 0..diff.unsigned_abs() {
                let position = SourcePosition::Dataflow { epoch: *epoch };
                let letter = DeadLetter::new(&stream, position, RejectKind::Late, reason.clone(), &raw);
                dead_letters.reject_late(&counters, letter);
            }
        })
        .probe_with(&self.probe);
    }

    /// Hands this worker's complete epochs of `collection` to `consumer`, which must not
    /// block (see [`crate::export`]). The export counts towards the pipeline's progress: a
    /// source hears that its records were processed only once the export has them too.
    pub fn export<D>(
        &mut self,
        name: &str,
        collection: Collection<'scope, D>,
        consumer: Box<dyn ExportConsumer<D>>,
    ) -> Result<(), EngineError>
    where
        D: Clone + 'static,
    {
        self.claim("export", name)?;
        attach_export(name, collection.probe_with(&self.probe), consumer);
        Ok(())
    }

    /// Delivers every action of `actions` (an append-only log) to each of `sinks`, off the
    /// dataflow threads (see [`crate::delivery`]); `to_record` says what an action's id, key
    /// and message are.
    pub fn deliver<A, F>(
        &mut self,
        name: &str,
        actions: Collection<'scope, A>,
        to_record: F,
        sinks: Vec<Arc<dyn ActionSink>>,
    ) -> Result<(), EngineError>
    where
        A: Clone + 'static,
        F: Fn(&A) -> ActionRecord + 'static,
    {
        let to_record = Box::new(to_record);
        let consumer = DeliveryExport {
            to_record,
            sinks,
            replayed: self.replayed_epochs(),
        };
        self.export(name, actions, Box::new(consumer))
    }

    /// The epochs below this one are replayed from history by recovery (0 without).
    fn replayed_epochs(&self) -> Epoch {
        self.services.recovery.as_ref().map_or(0, |r| r.resume_epoch())
    }

    fn claim(&mut self, kind: &'static str, name: &str) -> Result<(), EngineError> {
        if !self.names.insert(format!("{kind}:{name}")) {
            return Err(EngineError::DuplicateName {
                kind,
                name: name.to_string(),
            });
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> (Vec<Box<dyn DrivenInput>>, ProbeHandle<Epoch>) {
        (self.inputs, self.probe)
    }
}
