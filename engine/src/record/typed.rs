//! Typed records: the user's own serde structs, decoded directly and described to Arrow.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use serde::de::DeserializeOwned;
use serde_arrow::schema::{SchemaLike, TracingOptions};

use super::{DecodeError, FieldError};
use crate::EngineError;

/// Decodes one JSON document into `T`; a bad field is reported with its path.
pub fn decode_typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    // Records are JSON objects. serde's derived structs also accept an array, field by
    // position, which would let `[1, 2, 3]` through as a record: refuse it here.
    match text.trim_start().as_bytes().first() {
        Some(b'{') | None => {}
        Some(b'[') => return Err(DecodeError::NotAnObject("an array".to_string())),
        Some(_) => {
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => DecodeError::NotAnObject("a scalar".to_string()),
                Err(e) => DecodeError::Malformed(e.to_string()),
            });
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(map_path_error)?;
    de.end().map_err(|e| DecodeError::Malformed(e.to_string()))?;
    Ok(value)
}

/// Turns a serde_json error with its field path into a [`DecodeError`]: data errors name the
/// field, syntax errors say the JSON is malformed.
pub(super) fn map_path_error(e: serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        // The document itself has the wrong shape (an array or a number for a struct).
        serde_json::error::Category::Data if path == "." && inner.to_string().starts_with("invalid type") => {
            DecodeError::NotAnObject(strip_position(&inner.to_string()))
        }
        serde_json::error::Category::Data => DecodeError::Fields(vec![FieldError {
            field: if path == "." { String::new() } else { path },
            reason: strip_position(&inner.to_string()),
        }]),
        _ => DecodeError::Malformed(inner.to_string()),
    }
}

/// serde_json appends " at line L column C" to data errors; the field path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Derives the Arrow fields of a serde type; the named `i64` fields become `TIMESTAMP(ms)`.
pub fn derive_arrow_fields<T: DeserializeOwned>(timestamp_ms_fields: &[&str]) -> Result<Vec<FieldRef>, EngineError> {
    let fields =
        Vec::<FieldRef>::from_type::<T>(TracingOptions::default()).map_err(|e| EngineError::SchemaDerivation {
            type_name: std::any::type_name::<T>(),
            reason: e.to_string(),
        })?;
    for name in timestamp_ms_fields {
        if !fields.iter().any(|f| f.name() == name) {
            return Err(EngineError::SchemaDerivation {
                type_name: std::any::type_name::<T>(),
                reason: format!("no field `{name}` to mark as a timestamp"),
            });
        }
    }
    Ok(fields
        .into_iter()
        .map(|f| {
            if timestamp_ms_fields.contains(&f.name().as_str()) {
                Arc::new(Field::new(
                    f.name(),
                    DataType::Timestamp(TimeUnit::Millisecond, None),
                    f.is_nullable(),
                ))
            } else {
                f
            }
        })
        .collect())
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
    fn decodes_and_names_the_bad_field() {
        let r: Reading = decode_typed(br#"{"sensor_id": 7, "ts": 1700000000000, "value": 21.5}"#).expect("decodes");
        assert_eq!(r.value, 21.5);
        let err = decode_typed::<Reading>(br#"{"sensor_id": 7, "ts": 1, "value": "hot"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `value`: invalid type: string \"hot\", expected f64"
        );
        let err = decode_typed::<Reading>(br#"{"sensor_id": 7}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `ts`"), "{err}");
        assert!(matches!(decode_typed::<Reading>(b"{"), Err(DecodeError::Malformed(_))));
        assert!(
            matches!(decode_typed::<Reading>(b" [7, 1, 2.5]"), Err(DecodeError::NotAnObject(k)) if k == "an array"),
            "a struct must not be read from an array by position"
        );
        assert!(matches!(
            decode_typed::<Reading>(b"42"),
            Err(DecodeError::NotAnObject(_))
        ));
        assert!(matches!(
            decode_typed::<Reading>(b"nope"),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn derives_arrow_fields_with_timestamps() -> Result<(), EngineError> {
        let fields = derive_arrow_fields::<Reading>(&["ts"])?;
        let types: Vec<_> = fields.iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(
            types,
            [
                DataType::Int64,
                DataType::Timestamp(TimeUnit::Millisecond, None),
                DataType::Float64
            ]
        );
        assert!(derive_arrow_fields::<Reading>(&["nope"]).is_err());
        Ok(())
    }
}
