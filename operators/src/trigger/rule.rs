//! A trigger rule: a named predicate over the rows of a projection.
//!
//! The rule is data about *when* something is wrong (the predicate) and *when* it happened
//! (the row's event time). It says nothing about how often to tell anyone; that is the
//! [`TriggerPolicy`](crate::TriggerPolicy)'s job, so one policy can govern several rules.
//! The functions are shared behind `Arc` so a rule can be defined once (e.g. from
//! configuration) and cloned into every worker.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tributary_engine::EventTime;

/// How bad a rule's firing is; metadata for whoever delivers the actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth looking at (the default).
    #[default]
    Warning,
    /// Worth waking someone up.
    Critical,
}

type Predicate<R> = Arc<dyn Fn(&R) -> bool + Send + Sync>;
type TimeOf<R> = Arc<dyn Fn(&R) -> EventTime + Send + Sync>;

/// A named predicate over projection rows of type `R`, with the row's event time.
///
/// ```
/// use tributary_operators::{Severity, TriggerRule};
///
/// // rows: (ts, score)
/// let rule = TriggerRule::new("high_score", |r: &(i64, i64)| r.1.abs() > 4, |r| r.0)
///     .with_severity(Severity::Critical)
///     .with_description("|z| above 4");
/// assert!(rule.holds(&(10, -5)));
/// assert_eq!(rule.event_time(&(10, -5)), 10);
/// assert_eq!(rule.name(), "high_score");
/// ```
pub struct TriggerRule<R> {
    name: String,
    predicate: Predicate<R>,
    event_time: TimeOf<R>,
    severity: Severity,
    description: String,
}

impl<R> TriggerRule<R> {
    /// A rule named `name` that holds for the rows where `predicate` is true; `event_time`
    /// gives each row's event time (milliseconds), which stamps the actions the row causes.
    pub fn new(
        name: impl Into<String>,
        predicate: impl Fn(&R) -> bool + Send + Sync + 'static,
        event_time: impl Fn(&R) -> EventTime + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            predicate: Arc::new(predicate),
            event_time: Arc::new(event_time),
            severity: Severity::default(),
            description: String::new(),
        }
    }

    /// The same rule with this severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// The same rule with this human-readable description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The rule's name, as it appears in actions, alerts and stats.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule's severity.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// The rule's description (empty unless set).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether the predicate holds for `row`.
    pub fn holds(&self, row: &R) -> bool {
        (self.predicate)(row)
    }

    /// The event time of `row`.
    pub fn event_time(&self, row: &R) -> EventTime {
        (self.event_time)(row)
    }
}

impl<R> Clone for TriggerRule<R> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            predicate: Arc::clone(&self.predicate),
            event_time: Arc::clone(&self.event_time),
            severity: self.severity,
            description: self.description.clone(),
        }
    }
}

impl<R> fmt::Debug for TriggerRule<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TriggerRule")
            .field("name", &self.name)
            .field("severity", &self.severity)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}
