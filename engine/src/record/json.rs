//! [`JsonDecoder`]: what every byte-oriented source (Kafka, MQTT, HTTP ingest) uses to turn a
//! message into the stream's record type, with a size limit and fields taken from the
//! message's metadata (a topic level, the broker timestamp) when the payload lacks them.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::typed::{decode_typed, map_path_error};
use super::{DecodeError, RowDecoder};

/// A value taken from message metadata and added to the payload when it lacks the field.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// An integer (the broker timestamp; a numeric topic level).
    Int(i64),
    /// A string (a non-numeric topic level).
    Str(String),
}

impl MetadataValue {
    /// A topic level: an integer when it is one, a string otherwise.
    pub fn from_topic_level(level: &str) -> Self {
        level.parse().map_or_else(|_| Self::Str(level.to_string()), Self::Int)
    }

    fn to_json(&self) -> Value {
        match self {
            Self::Int(i) => Value::from(*i),
            Self::Str(s) => Value::from(s.as_str()),
        }
    }
}

/// Decodes JSON messages into `T` (see the module docs).
#[derive(Debug)]
pub struct JsonDecoder<T> {
    max_record_bytes: usize,
    _record: PhantomData<fn() -> T>,
}

impl<T> Clone for JsonDecoder<T> {
    fn clone(&self) -> Self {
        Self {
            max_record_bytes: self.max_record_bytes,
            _record: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Default for JsonDecoder<T> {
    fn default() -> Self {
        Self::new(RowDecoder::DEFAULT_MAX_RECORD_BYTES)
    }
}

impl<T: DeserializeOwned> JsonDecoder<T> {
    /// A decoder that rejects records larger than `max_record_bytes`.
    pub fn new(max_record_bytes: usize) -> Self {
        Self {
            max_record_bytes,
            _record: PhantomData,
        }
    }

    /// The record size limit in bytes.
    pub fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    /// Decodes one message.
    pub fn decode(&self, payload: &[u8]) -> Result<T, DecodeError> {
        self.check_size(payload)?;
        decode_typed(payload)
    }

    /// Decodes one message, first adding each `(field, value)` the payload does not have.
    ///
    /// With no metadata this is [`decode`](Self::decode); otherwise the payload is parsed
    /// into a JSON map first, which costs an allocation per field.
    pub fn decode_with(&self, payload: &[u8], metadata: &[(&str, MetadataValue)]) -> Result<T, DecodeError> {
        if metadata.is_empty() {
            return self.decode(payload);
        }
        self.check_size(payload)?;
        let text = std::str::from_utf8(payload).map_err(|e| DecodeError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        let value: Value = serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let mut object: Map<String, Value> = match value {
            Value::Object(object) => object,
            other => return Err(DecodeError::NotAnObject(json_kind(&other).to_string())),
        };
        for (field, value) in metadata {
            if !object.contains_key(*field) {
                object.insert((*field).to_string(), value.to_json());
            }
        }
        serde_path_to_error::deserialize(Value::Object(object)).map_err(map_path_error)
    }

    fn check_size(&self, payload: &[u8]) -> Result<(), DecodeError> {
        if payload.len() > self.max_record_bytes {
            return Err(DecodeError::Oversized {
                size: payload.len(),
                limit: self.max_record_bytes,
            });
        }
        Ok(())
    }
}

/// How an error message names the kind of a JSON value (`an array`, `a string`, ...).
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Reading {
        sensor_id: i64,
        ts: i64,
        value: f64,
    }

    #[test]
    fn adds_missing_fields_from_metadata_and_keeps_the_payloads_own() {
        let d = JsonDecoder::<Reading>::default();
        let meta = [
            ("sensor_id", MetadataValue::from_topic_level("17")),
            ("ts", MetadataValue::Int(5)),
        ];
        let r = d.decode_with(br#"{"value": 1.5}"#, &meta).expect("decodes");
        assert_eq!(
            r,
            Reading {
                sensor_id: 17,
                ts: 5,
                value: 1.5
            }
        );
        let r = d.decode_with(br#"{"value": 1.5, "ts": 9}"#, &meta).expect("decodes");
        assert_eq!(r.ts, 9, "the payload's own field wins");
    }

    #[test]
    fn rejects_with_the_same_reasons_as_plain_decoding() {
        let d = JsonDecoder::<Reading>::new(64);
        let meta = [("sensor_id", MetadataValue::from_topic_level("kitchen"))];
        let err = d.decode_with(br#"{"value": 1.5, "ts": 1}"#, &meta).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("field `sensor_id`: invalid type: string \"kitchen\""),
            "{err}"
        );
        assert!(matches!(d.decode_with(b"[1]", &meta), Err(DecodeError::NotAnObject(k)) if k == "an array"));
        assert!(matches!(d.decode_with(b"{", &meta), Err(DecodeError::Malformed(_))));
        assert!(matches!(
            d.decode_with(b"\xff", &meta),
            Err(DecodeError::InvalidUtf8 { .. })
        ));
        let big = format!(r#"{{"value": 1.5, "ts": 1, "pad": "{}"}}"#, "x".repeat(100));
        assert!(matches!(
            d.decode(big.as_bytes()),
            Err(DecodeError::Oversized { limit: 64, .. })
        ));
    }
}
