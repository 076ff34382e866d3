//! How a pipeline declares a stream beyond its name: how to read a record's event time.

use std::sync::Arc;

use crate::time::EventTime;

/// Reads a record's event time (ms since the Unix epoch).
pub type EventTimeFn<T> = Arc<dyn Fn(&T) -> EventTime + Send + Sync>;

/// A stream declaration for [`Pipeline::source_with`](crate::Pipeline::source_with).
///
/// The event time partitions the stream's history by date and hour; without one, history
/// is partitioned by the wall-clock time at which records were accepted.
pub struct StreamSpec<T> {
    pub(crate) name: String,
    pub(crate) event_time: Option<EventTimeFn<T>>,
}

impl<T> StreamSpec<T> {
    /// A stream called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            event_time: None,
        }
    }

    /// Reads each record's event time with `f`.
    pub fn with_event_time<F>(mut self, f: F) -> Self
    where
        F: Fn(&T) -> EventTime + Send + Sync + 'static,
    {
        self.event_time = Some(Arc::new(f));
        self
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<T> std::fmt::Debug for StreamSpec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSpec")
            .field("name", &self.name)
            .field("event_time", &self.event_time.is_some())
            .finish()
    }
}

impl<T> From<&str> for StreamSpec<T> {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}
