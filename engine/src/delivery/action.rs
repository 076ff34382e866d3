//! [`ActionRecord`]: an action as the delivery layer sees it, independent of its Rust type.

use serde::{Deserialize, Serialize};

/// One action to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Identifies the action; sent as the `Idempotency-Key` of every webhook call, so a
    /// receiver can drop the duplicates retries produce. `"<rule>:<seq>"` for trigger actions.
    pub id: String,
    /// The rule that emitted it.
    pub rule: String,
    /// The key it fired for, as text.
    pub key: String,
    /// `FIRING` or `RESOLVED`.
    pub state: String,
    /// The message body (JSON).
    pub payload: serde_json::Value,
}

impl ActionRecord {
    /// A trigger action: its id is `"<rule>:<seq>"`, unique per rule.
    pub fn for_trigger(
        rule: impl Into<String>,
        seq: u64,
        key: impl Into<String>,
        state: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        let rule = rule.into();
        Self {
            id: format!("{rule}:{seq}"),
            rule,
            key: key.into(),
            state: state.into(),
            payload,
        }
    }
}
