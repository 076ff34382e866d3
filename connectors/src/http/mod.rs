//! HTTP ingest as a stream's only source.
//!
//! Every stream accepts `POST /v1/ingest/<stream>` whatever its source (see
//! [`tributary_engine::ingest`]). [`HttpIngestOnly`] is the source for a stream fed by
//! nothing else: its readers emit nothing and never finish, so the stream stays open to
//! ingest until the pipeline shuts down (`tributary demo --source http`).

use tributary_engine::EngineError;
use tributary_engine::source::{Source, SourceOutput, SourceReader, SourceStatus, WorkerInfo};

/// A source that only carries what HTTP ingest brings (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpIngestOnly;

impl<T: 'static> Source<T> for HttpIngestOnly {
    fn describe(&self) -> String {
        "http ingest only".to_string()
    }

    fn open(&self, _worker: WorkerInfo) -> Result<Box<dyn SourceReader<T>>, EngineError> {
        Ok(Box::new(HttpIngestOnly))
    }
}

impl<T> SourceReader<T> for HttpIngestOnly {
    fn poll(&mut self, _out: &mut SourceOutput<'_, T>, _budget: usize) -> SourceStatus {
        SourceStatus::Idle
    }
}
