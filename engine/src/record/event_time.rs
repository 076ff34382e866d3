//! Event-time fields: epoch milliseconds, or an RFC 3339 timestamp converted to them.
//!
//! Devices and services disagree on how to write a timestamp. A field declared with
//! `#[serde(deserialize_with = "event_time_ms")]` accepts both `1700000000000` and
//! `"2023-11-14T22:13:20Z"` (any offset, any sub-second precision) and stores epoch
//! milliseconds; anything else is a decode error that names the field, so the record goes to
//! the dead-letter queue as "event time unparsable" rather than being guessed at.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// Parses an RFC 3339 timestamp into epoch milliseconds (UTC).
pub fn parse_event_time_ms(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            format!("cannot parse event time {text:?} ({e}); expected epoch milliseconds or an RFC 3339 timestamp")
        })
}

/// serde `deserialize_with` for an event-time field (see the module docs).
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Reading {
///     #[serde(deserialize_with = "tributary_engine::record::event_time_ms")]
///     ts: i64,
/// }
/// let a: Reading = serde_json::from_str(r#"{"ts": 1700000000000}"#).unwrap();
/// let b: Reading = serde_json::from_str(r#"{"ts": "2023-11-14T22:13:20Z"}"#).unwrap();
/// assert_eq!(a.ts, b.ts);
/// assert!(serde_json::from_str::<Reading>(r#"{"ts": "yesterday"}"#).is_err());
/// ```
pub fn event_time_ms<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    // Accepting a number *or* a string needs `deserialize_any`, which only self-describing
    // formats support. serde_arrow's schema tracer (behind `derive_arrow_fields`) is not one
    // of them and says so with an error, so for it the field is what it stores: an i64.
    if std::any::type_name::<D>().starts_with("serde_arrow::") {
        return d.deserialize_i64(EventTimeVisitor);
    }
    d.deserialize_any(EventTimeVisitor)
}

struct EventTimeVisitor;

impl Visitor<'_> for EventTimeVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("epoch milliseconds or an RFC 3339 timestamp")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("event time {v} is out of range")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        parse_event_time_ms(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Reading {
        #[serde(deserialize_with = "event_time_ms")]
        ts: i64,
    }

    #[test]
    fn arrow_schemas_can_still_be_derived() {
        let fields = crate::record::derive_arrow_fields::<Reading>(&["ts"]).expect("traceable");
        assert_eq!(fields[0].name(), "ts");
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(parse_event_time_ms("1970-01-01T00:00:01.5Z"), Ok(1500));
        assert_eq!(parse_event_time_ms("1970-01-01T01:00:00+01:00"), Ok(0));
        let err = parse_event_time_ms("soon").unwrap_err();
        assert!(err.starts_with("cannot parse event time \"soon\""), "{err}");
    }
}
