//! The notifications pipeline: delivery events → each notification's delivery state, a
//! daily digest per user, per-channel delivery lag, and a dead letter per failed
//! notification — what a notification service keeps in its own database and cron jobs.
//!
//! Input stream `notification_events` ([`NotificationEvent`]: `notification_id, user_id,
//! channel, step, ts, detail`, `step` one of `queued`, `sent`, `delivered`, `bounced`), from
//! Kafka, HTTP ingest or the built-in [`NotificationGenerator`]. Projections:
//!
//! * `notification_state` ([`NotificationState`], keyed by `notification_id`): the state
//!   machine of `state.rs` over the notification's events in event-time order — pending →
//!   sent → delivered, or back to pending on a bounce while attempts remain, failed after
//!   the last allowed attempt bounces; attempts and retries counted. Events arriving out of
//!   order or twice give the same state. Subscribe to it (`GET /v1/subscribe/notification_state`)
//!   for a changefeed of every state change;
//! * `user_digest` ([`UserDigest`], keyed by `user_id`): per user and UTC day (a tumbling
//!   window of [`NotificationsConfig::digest_window_ms`] over `queued_at`), how many
//!   notifications were queued and where they stand;
//! * `delivery_lag` ([`DeliveryLag`], keyed by `channel`): per channel, how long delivered
//!   notifications took from queued to delivered in event time — the service's processing
//!   lag, as opposed to Tributary's own (`system.sources`, `/metrics`).
//!
//! A notification entering `failed` is written to the dead-letter queue (kind `delivery`,
//! the state row as raw bytes), so failures land where operators already look
//! (`system.dlq`, `DIR/dlq/`). The queue is a log: should later events (out of order) turn
//! a failed notification into a delivered one, its letter stays.

mod event;
mod generator;
mod state;

use std::sync::Arc;

pub use event::{DeliveryState, DeliveryStep, NotificationEvent};
pub use generator::{NotificationGenerator, NotificationGeneratorConfig};
pub use state::{DeliveryLag, NotificationState, UserDigest, fold};

use serde::{Deserialize, Serialize};
use tributary_engine::source::{DeadLetter, DeadLetterQueue, RejectKind, Source, SourcePosition, StreamSpec};
use tributary_engine::{EngineError, Epoch, Pipeline, ProjectionSpec};
use tributary_operators::{OrderedFloat, StatsPerKey, WindowSpec, Windowed};

/// Name of the input stream.
pub const EVENTS_STREAM: &str = "notification_events";
/// Name of the per-notification state projection.
pub const NOTIFICATION_STATE: &str = "notification_state";
/// Name of the per-user daily digest.
pub const USER_DIGEST: &str = "user_digest";
/// Name of the per-channel delivery lag.
pub const DELIVERY_LAG: &str = "delivery_lag";
/// Default [`NotificationsConfig::max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: i64 = 3;

/// Pipeline settings. Every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationsConfig {
    /// Attempts before a bounce is final. Default: 3.
    pub max_attempts: i64,
    /// Length of the digest windows, ms. Default: 86,400,000 (a UTC day).
    pub digest_window_ms: i64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            digest_window_ms: 86_400_000,
        }
    }
}

/// Builds the notifications pipeline over `source`; failed notifications go to
/// `dead_letters` (give the runtime's own queue, so they show in `system.dlq`).
pub fn build<S>(
    p: &mut Pipeline<'_>,
    source: &S,
    config: NotificationsConfig,
    dead_letters: &Arc<DeadLetterQueue>,
) -> Result<(), EngineError>
where
    S: Source<NotificationEvent> + ?Sized,
{
    if config.max_attempts < 1 {
        return Err(EngineError::Config("max_attempts must be at least 1".into()));
    }
    let days = WindowSpec::try_tumbling(config.digest_window_ms)
        .map_err(|e| EngineError::Config(format!("digest_window_ms: {e}")))?;
    let max_attempts = config.max_attempts;
    let states = p
        .source_with(
            StreamSpec::new(EVENTS_STREAM).with_event_time(|e: &NotificationEvent| e.ts),
            source,
        )?
        .map(|e| (e.notification_id, (e.ts, e.step, e)))
        .reduce(move |_, group, out| {
            let present = group.iter().filter(|(_, m)| *m > 0).map(|(v, _)| &v.2);
            if let Some(state) = fold(present, max_attempts) {
                out.push((state, 1));
            }
        })
        .map(|(_, state)| state);

    let digest = states
        .clone()
        .map(|s| (s.user_id, (s.queued_at, s)))
        .windowed(days)
        .map(|(key, (_, s))| (key, s))
        .reduce(|_, group, out| {
            let mut d = UserDigest {
                user_id: 0,
                day: 0,
                notifications: 0,
                delivered: 0,
                failed: 0,
                open: 0,
                retries: 0,
            };
            for (s, m) in group.iter().filter(|(_, m)| *m > 0) {
                let m = *m as i64;
                d.notifications += m;
                d.retries += s.retries * m;
                match s.state {
                    DeliveryState::Delivered => d.delivered += m,
                    DeliveryState::Failed => d.failed += m,
                    DeliveryState::Pending | DeliveryState::Sent => d.open += m,
                }
            }
            out.push((d, 1));
        })
        .map(|((user_id, day), d)| UserDigest {
            user_id,
            day: day.start,
            ..d
        });

    let lag = states
        .clone()
        .filter(|s| s.state == DeliveryState::Delivered)
        .map(|s| {
            (
                s.channel.clone(),
                (s.updated_at, OrderedFloat((s.updated_at - s.queued_at) as f64)),
            )
        })
        .stats_per_key()
        .map(|(channel, s)| DeliveryLag {
            channel,
            delivered: s.aggregate.count,
            avg_ms: s.aggregate.avg().unwrap_or(f64::NAN),
            max_ms: s.max.0 as i64,
        });

    let dead_letters = dead_letters.clone();
    let failed = states.clone().filter(|s| s.state == DeliveryState::Failed);
    p.export(
        "failed_notifications",
        failed,
        Box::new(move |_upper: Epoch, updates: Vec<(NotificationState, Epoch, isize)>| {
            for (s, epoch, diff) in updates {
                if diff <= 0 {
                    continue;
                }
                let raw = serde_json::to_vec(&s).unwrap_or_else(|e| format!("unserialisable state: {e}").into_bytes());
                let reason = format!(
                    "notification {} to user {} by {} failed after {} attempts: {}",
                    s.notification_id, s.user_id, s.channel, s.attempts, s.last_error
                );
                let position = SourcePosition::Dataflow { epoch };
                dead_letters.reject_delivery(DeadLetter::new(
                    EVENTS_STREAM,
                    position,
                    RejectKind::Delivery,
                    reason,
                    &raw,
                ));
            }
        }),
    )?;

    p.projection(
        ProjectionSpec::new(NOTIFICATION_STATE)
            .with_timestamp_ms(["queued_at", "updated_at"])
            .with_key_columns(["notification_id"]),
        states,
        |s| s.notification_id,
    )?;
    p.projection(
        ProjectionSpec::new(USER_DIGEST)
            .with_timestamp_ms(["day"])
            .with_key_columns(["user_id"]),
        digest,
        |d| d.user_id,
    )?;
    p.projection(
        ProjectionSpec::new(DELIVERY_LAG).with_key_columns(["channel"]),
        lag,
        |l| l.channel.clone(),
    )
}
