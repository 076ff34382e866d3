//! The typed endpoint of one stream: decode, dead-letter, queue, and wait for the workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use super::body::array_error;
use super::queue::QueueRefusal;
use super::{IngestBatch, IngestEndpoint, IngestError, IngestQueue, IngestReport, LineError, split_body};
use crate::record::JsonDecoder;
use crate::source::{DeadLetter, DeadLetterQueue, SourcePosition, StreamCounters};
use crate::time::Epoch;

/// The endpoint of a stream of `T`.
pub(crate) struct TypedEndpoint<T> {
    stream: String,
    decoder: JsonDecoder<T>,
    pub(crate) queue: Arc<IngestQueue<T>>,
    counters: Arc<StreamCounters>,
    dead_letters: Arc<DeadLetterQueue>,
    requests: AtomicU64,
}

impl<T> std::fmt::Debug for TypedEndpoint<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedEndpoint").field("stream", &self.stream).finish()
    }
}

impl<T: DeserializeOwned> TypedEndpoint<T> {
    /// Batches queued at most per stream before ingest answers busy.
    pub(crate) const MAX_QUEUED_BATCHES: usize = 1_024;

    pub(crate) fn new(
        stream: &str,
        decoder: JsonDecoder<T>,
        counters: Arc<StreamCounters>,
        dead_letters: Arc<DeadLetterQueue>,
    ) -> Self {
        Self {
            stream: stream.to_string(),
            decoder,
            queue: Arc::new(IngestQueue::new(Self::MAX_QUEUED_BATCHES)),
            counters,
            dead_letters,
            requests: AtomicU64::new(0),
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> IngestEndpoint for TypedEndpoint<T> {
    fn ingest(&self, body: &[u8]) -> Result<PendingIngest, IngestError> {
        let request = self.requests.fetch_add(1, Ordering::Relaxed);
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for (line, raw) in split_body(body) {
            let decoded = match array_error(raw) {
                Some(error) => Err(error),
                None => self.decoder.decode(raw),
            };
            match decoded {
                Ok(record) => records.push(record),
                Err(error) => {
                    errors.push(LineError {
                        line,
                        reason: error.to_string(),
                    });
                    let position = SourcePosition::Http { request, line };
                    let letter = DeadLetter::from_decode_error(&self.stream, position, raw, &error);
                    self.dead_letters.reject(&self.counters, letter);
                }
            }
        }
        let accepted = records.len();
        let entered = if records.is_empty() {
            None
        } else {
            let (tx, rx) = oneshot::channel();
            self.queue
                .push(IngestBatch { records, entered: tx })
                .map_err(|refusal| match refusal {
                    QueueRefusal::Closed => IngestError::Closed(self.stream.clone()),
                    QueueRefusal::Full => IngestError::Busy(self.stream.clone()),
                })?;
            Some(rx)
        };
        Ok(PendingIngest {
            stream: self.stream.clone(),
            accepted,
            errors,
            entered,
        })
    }
}

/// An ingest whose records are queued; [`wait`](Self::wait) for the workers to take them.
#[derive(Debug)]
pub struct PendingIngest {
    stream: String,
    accepted: usize,
    errors: Vec<LineError>,
    entered: Option<oneshot::Receiver<Epoch>>,
}

impl PendingIngest {
    /// Waits at most `timeout` until a worker has emitted the records, and reports.
    pub async fn wait(self, timeout: Duration) -> Result<IngestReport, IngestError> {
        let ticket = match self.entered {
            None => 0,
            Some(rx) => match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(epoch)) => epoch + 1,
                Ok(Err(_)) => return Err(IngestError::Closed(self.stream)),
                Err(_) => {
                    return Err(IngestError::Timeout {
                        stream: self.stream,
                        waited: timeout,
                    });
                }
            },
        };
        Ok(IngestReport {
            accepted: self.accepted,
            rejected: self.errors.len(),
            errors: self.errors,
            ticket,
        })
    }
}
