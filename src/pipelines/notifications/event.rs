//! The `notification_events` stream's record, and string enums shared with the state rows.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// Generates `as_str`, `Display`, and string serde (a plain string on the wire and in
/// Arrow: serde's derived enum would become an Arrow union, which Parquet history cannot
/// store) for a unit-only enum.
macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // serde_arrow's schema tracer (behind `derive_arrow_fields`) hands every
                // string field an empty sample; for it the field is what it stores.
                let tracing = std::any::type_name::<D>().starts_with("serde_arrow::");
                let text = String::deserialize(d)?;
                match Self::ALL.iter().find(|v| v.as_str() == text) {
                    Some(v) => Ok(*v),
                    None if tracing && text.is_empty() => Ok(Self::ALL[0]),
                    None => Err(de::Error::custom(format!(
                        concat!("unknown ", stringify!($name), " {:?}: expected one of {}"),
                        text,
                        Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    ))),
                }
            }
        }
    };
}

/// What the delivery worker reports about a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryStep {
    /// Created and waiting for its first attempt.
    Queued,
    /// An attempt was handed to the channel's provider.
    Sent,
    /// The provider confirmed delivery.
    Delivered,
    /// The attempt failed (the reason is in `detail`).
    Bounced,
}

string_enum!(DeliveryStep { Queued => "queued", Sent => "sent", Delivered => "delivered", Bounced => "bounced" });

/// A notification's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryState {
    /// Waiting for an attempt (first or retry).
    Pending,
    /// An attempt is in flight.
    Sent,
    /// Delivered: final.
    Delivered,
    /// Every allowed attempt bounced: final, and dead-lettered.
    Failed,
}

string_enum!(DeliveryState { Pending => "pending", Sent => "sent", Delivered => "delivered", Failed => "failed" });

impl DeliveryState {
    /// Whether no later event changes it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed)
    }
}

/// One event of the `notification_events` stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NotificationEvent {
    /// The notification.
    pub notification_id: i64,
    /// Its recipient.
    pub user_id: i64,
    /// `email`, `push`, `sms`, …
    pub channel: String,
    /// What happened.
    pub step: DeliveryStep,
    /// Event time, epoch milliseconds (JSON may also give RFC 3339).
    #[serde(deserialize_with = "tributary_engine::record::event_time_ms")]
    pub ts: i64,
    /// A bounce's reason (default: empty).
    #[serde(default)]
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_states_are_strings_and_unknown_ones_are_refused_by_name() {
        for step in DeliveryStep::ALL {
            let json = serde_json::to_string(step).expect("serialises");
            assert_eq!(serde_json::from_str::<DeliveryStep>(&json).expect("parses"), *step);
        }
        let err = serde_json::from_str::<DeliveryStep>("\"lost\"").expect_err("unknown");
        assert!(err.to_string().contains("unknown DeliveryStep \"lost\""), "{err}");
        let fields = tributary_engine::record::derive_arrow_fields::<NotificationEvent>(&[]).expect("derives");
        let step = fields.iter().find(|f| f.name() == "step").expect("column");
        assert!(step.data_type().to_string().ends_with("Utf8"), "{}", step.data_type());
    }
}
