//! The delivery state machine, and the rows of the notification projections.
//!
//! ```text
//!            sent              delivered
//!  pending ───────> sent ──────────────────> delivered (final)
//!     ^              │ bounced
//!     └──────────────┤ attempts < max: a retry
//!                    └───────────────────────> failed (final, dead-lettered)
//! ```

use serde::{Deserialize, Serialize};

use super::event::{DeliveryState, DeliveryStep, NotificationEvent};

/// One row of `notification_state`: a notification's delivery state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NotificationState {
    /// The notification.
    pub notification_id: i64,
    /// Its recipient.
    pub user_id: i64,
    /// Its channel.
    pub channel: String,
    /// Where it is (SQL: `VARCHAR`).
    pub state: DeliveryState,
    /// Attempts sent so far.
    pub attempts: i64,
    /// Attempts after the first: `max(attempts − 1, 0)`.
    pub retries: i64,
    /// Event time of its `queued` event, or of its earliest event without one (SQL:
    /// `TIMESTAMP`).
    pub queued_at: i64,
    /// Event time of the last event that changed it (SQL: `TIMESTAMP`).
    pub updated_at: i64,
    /// The last bounce's reason (empty: none).
    pub last_error: String,
}

/// Folds one notification's events, given in `(ts, step)` order with their multiplicities,
/// through the state machine (see the module docs). A duplicate (an at-least-once
/// redelivery of the same event) counts once; events after a final state change nothing.
/// `None` when no event is present.
pub fn fold<'a, I>(events: I, max_attempts: i64) -> Option<NotificationState>
where
    I: IntoIterator<Item = &'a NotificationEvent>,
{
    let mut events = events.into_iter().peekable();
    let first = events.peek()?;
    let mut s = NotificationState {
        notification_id: first.notification_id,
        user_id: first.user_id,
        channel: first.channel.clone(),
        state: DeliveryState::Pending,
        attempts: 0,
        retries: 0,
        queued_at: first.ts,
        updated_at: first.ts,
        last_error: String::new(),
    };
    for e in events {
        if e.step == DeliveryStep::Queued {
            s.queued_at = e.ts;
        }
        if s.state.is_final() {
            continue;
        }
        s.state = match e.step {
            DeliveryStep::Queued => s.state,
            DeliveryStep::Sent => {
                s.attempts += 1;
                DeliveryState::Sent
            }
            DeliveryStep::Delivered => DeliveryState::Delivered,
            DeliveryStep::Bounced => {
                s.last_error.clone_from(&e.detail);
                if s.attempts >= max_attempts {
                    DeliveryState::Failed
                } else {
                    DeliveryState::Pending
                }
            }
        };
        s.updated_at = e.ts;
    }
    s.retries = (s.attempts - 1).max(0);
    Some(s)
}

/// One row of `user_digest`: a user's notifications queued on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserDigest {
    /// The user.
    pub user_id: i64,
    /// Start of the day (SQL: `TIMESTAMP`).
    pub day: i64,
    /// Notifications queued that day.
    pub notifications: i64,
    /// Of those, delivered.
    pub delivered: i64,
    /// Failed.
    pub failed: i64,
    /// Still pending or in flight.
    pub open: i64,
    /// Retries they needed.
    pub retries: i64,
}

/// One row of `delivery_lag`: per channel, how long delivered notifications took from
/// queued to delivered (event time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryLag {
    /// The channel.
    pub channel: String,
    /// Delivered notifications.
    pub delivered: i64,
    /// Mean time from queued to delivered, ms.
    pub avg_ms: f64,
    /// Longest, ms.
    pub max_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(step: DeliveryStep, ts: i64) -> NotificationEvent {
        NotificationEvent {
            notification_id: 1,
            user_id: 2,
            channel: "email".into(),
            step,
            ts,
            detail: if step == DeliveryStep::Bounced {
                format!("bounce at {ts}")
            } else {
                String::new()
            },
        }
    }

    fn state(steps: &[(DeliveryStep, i64)]) -> Option<NotificationState> {
        let events: Vec<NotificationEvent> = steps.iter().map(|(s, t)| event(*s, *t)).collect();
        fold(&events, 3)
    }

    #[test]
    fn the_state_machine_counts_retries_fails_after_the_last_attempt_and_stays_final() {
        use DeliveryStep::*;
        assert_eq!(state(&[]), None);
        let pending = state(&[(Queued, 1)]).expect("state");
        assert_eq!(
            (pending.state, pending.attempts, pending.queued_at),
            (DeliveryState::Pending, 0, 1)
        );
        let retried = state(&[(Queued, 1), (Sent, 2), (Bounced, 3), (Sent, 4), (Delivered, 5)]).expect("state");
        assert_eq!(
            (retried.state, retried.attempts, retried.retries),
            (DeliveryState::Delivered, 2, 1)
        );
        assert_eq!((retried.updated_at, retried.last_error.as_str()), (5, "bounce at 3"));
        let steps = [
            (Queued, 1),
            (Sent, 2),
            (Bounced, 3),
            (Sent, 4),
            (Bounced, 5),
            (Sent, 6),
            (Bounced, 7),
        ];
        let failed = state(&steps).expect("state");
        assert_eq!((failed.state, failed.retries), (DeliveryState::Failed, 2));
        let mut after = steps.to_vec();
        after.push((Delivered, 8));
        assert_eq!(state(&after), Some(failed), "nothing changes a final state");
        let waiting = state(&[(Queued, 1), (Sent, 2), (Bounced, 3)]).expect("state");
        assert_eq!(
            waiting.state,
            DeliveryState::Pending,
            "a bounce with attempts left is a retry"
        );
    }
}
