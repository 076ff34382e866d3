//! The JSON messages of a subscription, the same over SSE (`event:` is the `type`) and
//! WebSocket (one text frame each).
//!
//! Rows are arrays in column order, encoded exactly as `POST /v1/sql` encodes them, so a
//! client can apply the changes to the snapshot and compare with a query of the projection.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_engine::{ChangeBatch, SubscriptionClosed};

use crate::http::json::{JsonColumn, encode_rows};

/// One message to a subscriber.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SubscribeMessage {
    /// First message: the projection's rows at `as_of`.
    Snapshot {
        /// The projection subscribed to.
        projection: String,
        /// The frontier the rows reflect.
        as_of: u64,
        /// The columns, in order.
        columns: Vec<JsonColumn>,
        /// The rows, as arrays in column order.
        rows: Vec<Vec<Value>>,
    },
    /// The consolidated changes of one committed frontier.
    Change {
        /// The frontier committed: after these changes the client holds the projection as
        /// of `as_of`.
        as_of: u64,
        /// The changed rows, retractions of a key before its insertions.
        changes: Vec<RowChange>,
    },
    /// Sent every heartbeat interval.
    Heartbeat {
        /// When every change up to this frontier has been sent, that frontier (the client's
        /// state is the projection as of it); `null` while changes are still queued.
        as_of: Option<u64>,
    },
    /// The subscription ended normally (the pipeline has ended); nothing follows.
    Closed {
        /// Why.
        reason: String,
    },
    /// The subscription was ended by the server (e.g. a slow consumer); nothing follows.
    Error {
        /// Why.
        reason: String,
    },
}

/// One row inserted (`diff > 0`) or retracted (`diff < 0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowChange {
    /// The change of the row's multiplicity: `1` inserted, `-1` retracted.
    pub diff: i64,
    /// The row, as an array in column order.
    pub row: Vec<Value>,
}

impl SubscribeMessage {
    /// The message's `type`, used as the SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Snapshot { .. } => "snapshot",
            Self::Change { .. } => "change",
            Self::Heartbeat { .. } => "heartbeat",
            Self::Closed { .. } => "closed",
            Self::Error { .. } => "error",
        }
    }

    /// Whether nothing follows this message.
    pub fn is_last(&self) -> bool {
        matches!(self, Self::Closed { .. } | Self::Error { .. })
    }

    /// The message for one committed frontier's changes.
    pub(super) fn change(batch: &ChangeBatch) -> Result<Self, String> {
        let rows = encode_rows(&batch.rows)?;
        Ok(Self::Change {
            as_of: batch.as_of,
            changes: batch
                .diffs
                .iter()
                .zip(rows)
                .map(|(&diff, row)| RowChange { diff, row })
                .collect(),
        })
    }

    /// The last message, for why the subscription ended.
    pub(super) fn end(reason: &SubscriptionClosed) -> Self {
        match reason {
            SubscriptionClosed::Ended => Self::Closed {
                reason: reason.to_string(),
            },
            SubscriptionClosed::SlowConsumer { .. } | SubscriptionClosed::Encoding(_) => Self::Error {
                reason: reason.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_with_their_type() -> Result<(), serde_json::Error> {
        let message = SubscribeMessage::Change {
            as_of: 7,
            changes: vec![RowChange {
                diff: -1,
                row: vec![Value::from(1)],
            }],
        };
        assert_eq!(
            serde_json::to_value(&message)?,
            serde_json::json!({"type": "change", "as_of": 7, "changes": [{"diff": -1, "row": [1]}]})
        );
        let slow = SubscribeMessage::end(&SubscriptionClosed::SlowConsumer { behind: 5 });
        assert_eq!(slow.kind(), "error");
        assert!(slow.is_last());
        assert_eq!(
            serde_json::to_value(&slow)?,
            serde_json::json!({"type": "error", "reason": "slow consumer: 5 changes behind"})
        );
        assert_eq!(SubscribeMessage::end(&SubscriptionClosed::Ended).kind(), "closed");
        assert!(!SubscribeMessage::Heartbeat { as_of: None }.is_last());
        Ok(())
    }
}
