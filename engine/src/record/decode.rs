//! Schema-driven JSON decoding into a [`Row`], with one clear error per bad field.
//!
//! The decoder is a serde `DeserializeSeed`: it walks the JSON object once, matches each key
//! against the schema's columns without allocating, and decodes the value straight into the
//! column's typed [`Value`]. A value of the wrong type does not abort the walk: the field's
//! visitor reports the mismatch as data, so a record with three bad fields yields three
//! [`FieldError`]s in one pass.

use std::fmt;
use std::sync::Arc;

use ordered_float::OrderedFloat;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use thiserror::Error;

use super::{ColumnType, Row, StreamSchema, Value};

/// Why one field of a record was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field (column) name.
    pub field: String,
    /// What was wrong with it.
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "field `{}`: {}", self.field, self.reason)
        }
    }
}

/// Why a record could not be decoded. The message is meant for the dead-letter queue and for
/// the client that sent the record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The bytes are not UTF-8.
    #[error("invalid UTF-8 after {valid_up_to} bytes")]
    InvalidUtf8 {
        /// Length of the longest valid prefix.
        valid_up_to: usize,
    },
    /// The bytes are not a JSON document.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// The JSON document is not an object.
    #[error("expected a JSON object, found {0}")]
    NotAnObject(String),
    /// One or more fields are missing or have the wrong type.
    #[error("{}", join_fields(.0))]
    Fields(Vec<FieldError>),
    /// The record is larger than the configured limit.
    #[error("record of {size} bytes exceeds the limit of {limit} bytes")]
    Oversized {
        /// Size of the record.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
}

fn join_fields(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Decodes JSON objects into [`Row`]s of one schema.
#[derive(Debug, Clone)]
pub struct RowDecoder {
    schema: Arc<StreamSchema>,
    max_record_bytes: usize,
}

impl RowDecoder {
    /// Default limit on one record's size: 1 MiB.
    pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

    /// A decoder for `schema` with the default record size limit.
    pub fn new(schema: Arc<StreamSchema>) -> Self {
        Self {
            schema,
            max_record_bytes: Self::DEFAULT_MAX_RECORD_BYTES,
        }
    }

    /// Sets the largest record accepted, in bytes.
    pub fn with_max_record_bytes(mut self, limit: usize) -> Self {
        self.max_record_bytes = limit;
        self
    }

    /// The schema rows are decoded into.
    pub fn schema(&self) -> &Arc<StreamSchema> {
        &self.schema
    }

    /// Decodes one JSON object.
    pub fn decode(&self, bytes: &[u8]) -> Result<Row, DecodeError> {
        if bytes.len() > self.max_record_bytes {
            return Err(DecodeError::Oversized {
                size: bytes.len(),
                limit: self.max_record_bytes,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        let mut de = serde_json::Deserializer::from_str(text);
        let decoded = RowSeed { schema: &self.schema }
            .deserialize(&mut de)
            .and_then(|row| de.end().map(|()| row))
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        match decoded {
            Decoded::Row(row) => Ok(row),
            Decoded::NotAnObject(found) => Err(DecodeError::NotAnObject(found)),
            Decoded::Invalid(errors) => Err(DecodeError::Fields(errors)),
        }
    }
}

/// Result of walking one document: decode errors travel as data so the walk can finish.
enum Decoded {
    Row(Row),
    NotAnObject(String),
    Invalid(Vec<FieldError>),
}

struct RowSeed<'a> {
    schema: &'a StreamSchema,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Decoded;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Decoded, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Decoded;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        let columns = self.schema.columns();
        let mut values: Vec<Option<Value>> = vec![None; columns.len()];
        let mut errors = Vec::new();
        while let Some(slot) = map.next_key_seed(KeySeed { schema: self.schema })? {
            let Some(idx) = slot else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let column = &columns[idx];
            let result = map.next_value_seed(FieldSeed {
                ty: column.ty,
                nullable: column.nullable,
            })?;
            if values[idx].is_some() {
                errors.push(FieldError {
                    field: column.name.clone(),
                    reason: "appears more than once".into(),
                });
                continue;
            }
            match result {
                Ok(v) => values[idx] = Some(v),
                Err(reason) => errors.push(FieldError {
                    field: column.name.clone(),
                    reason,
                }),
            }
        }
        let mut row = Vec::with_capacity(columns.len());
        for (column, value) in columns.iter().zip(values) {
            match value {
                Some(v) => row.push(v),
                None if column.nullable => row.push(Value::Null),
                None if errors.iter().any(|e| e.field == column.name) => {}
                None => errors.push(FieldError {
                    field: column.name.clone(),
                    reason: format!("missing required {} field", column.ty.sql_name()),
                }),
            }
        }
        if errors.is_empty() {
            Ok(Decoded::Row(Row(row.into_boxed_slice())))
        } else {
            Ok(Decoded::Invalid(errors))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Decoded, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Decoded::NotAnObject("an array".into()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Decoded, E> {
        Ok(Decoded::NotAnObject(format!("boolean {v}")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decoded, E> {
        Ok(Decoded::NotAnObject(format!("number {v}")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decoded, E> {
        Ok(Decoded::NotAnObject(format!("number {v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decoded, E> {
        Ok(Decoded::NotAnObject(format!("number {v}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decoded, E> {
        Ok(Decoded::NotAnObject(format!("string {}", quoted(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Decoded, E> {
        Ok(Decoded::NotAnObject("null".into()))
    }
}

/// Maps a JSON key to a column index without allocating; `None` for unknown keys.
struct KeySeed<'a> {
    schema: &'a StreamSchema,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.schema.index_of(v))
    }
}

/// Decodes one field's value; a type mismatch is `Ok(Err(reason))` so the record walk goes on.
struct FieldSeed {
    ty: ColumnType,
    nullable: bool,
}

type FieldResult = Result<Value, String>;

impl FieldSeed {
    fn mismatch(&self, found: String) -> FieldResult {
        Err(format!("expected {}, found {found}", self.ty.sql_name()))
    }
}

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = FieldResult;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<FieldResult, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = FieldResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} value", self.ty.sql_name())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FieldResult, E> {
        Ok(match self.ty {
            ColumnType::Boolean => Ok(Value::Bool(v)),
            _ => self.mismatch(format!("boolean {v}")),
        })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldResult, E> {
        Ok(match self.ty {
            ColumnType::Int64 => Ok(Value::Int(v)),
            ColumnType::TimestampMs => Ok(Value::Timestamp(v)),
            ColumnType::Float64 => Ok(Value::Float(OrderedFloat(v as f64))),
            _ => self.mismatch(format!("number {v}")),
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldResult, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Ok(match self.ty {
                ColumnType::Float64 => Ok(Value::Float(OrderedFloat(v as f64))),
                ColumnType::Int64 | ColumnType::TimestampMs => {
                    Err(format!("number {v} is out of range for {}", self.ty.sql_name()))
                }
                _ => self.mismatch(format!("number {v}")),
            }),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<FieldResult, E> {
        Ok(match self.ty {
            ColumnType::Float64 => Ok(Value::Float(OrderedFloat(v))),
            _ => self.mismatch(format!("number {v}")),
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldResult, E> {
        Ok(match self.ty {
            ColumnType::Utf8 => Ok(Value::Str(Arc::from(v))),
            ColumnType::TimestampMs => parse_timestamp_ms(v).map(Value::Timestamp),
            _ => self.mismatch(format!("string {}", quoted(v))),
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<FieldResult, E> {
        Ok(if self.nullable {
            Ok(Value::Null)
        } else {
            Err("must not be null".into())
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldResult, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.mismatch("an array".into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldResult, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.mismatch("an object".into()))
    }
}

/// Parses an RFC 3339 / ISO 8601 timestamp string into epoch milliseconds.
fn parse_timestamp_ms(s: &str) -> Result<i64, String> {
    arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(s)
        .map(|nanos| nanos.div_euclid(1_000_000))
        .map_err(|_| {
            format!(
                "cannot parse {} as a timestamp (use epoch milliseconds or RFC 3339)",
                quoted(s)
            )
        })
}

/// A short, quoted rendering of a string for error messages.
fn quoted(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Column;
    use super::*;

    fn decoder() -> RowDecoder {
        let schema = StreamSchema::try_new(
            "readings",
            vec![
                Column::required("sensor_id", ColumnType::Int64),
                Column::required("ts", ColumnType::TimestampMs),
                Column::required("value", ColumnType::Float64),
                Column::nullable("unit", ColumnType::Utf8),
                Column::nullable("ok", ColumnType::Boolean),
            ],
        )
        .and_then(|s| s.with_event_time("ts"))
        .expect("valid schema");
        RowDecoder::new(Arc::new(schema))
    }

    #[test]
    fn decodes_a_good_record() {
        let row = decoder()
            .decode(br#"{"value": 21, "sensor_id": 7, "ts": 1700000000000, "extra": [1, {"a": 2}], "ok": true}"#)
            .expect("decodes");
        assert_eq!(
            row.values(),
            &[
                Value::Int(7),
                Value::Timestamp(1_700_000_000_000),
                Value::Float(OrderedFloat(21.0)),
                Value::Null,
                Value::Bool(true),
            ]
        );
    }

    #[test]
    fn parses_rfc3339_event_time() {
        let row = decoder()
            .decode(br#"{"sensor_id": 1, "ts": "2023-11-14T22:13:20.5Z", "value": 1.5}"#)
            .expect("decodes");
        assert_eq!(row.get(1), Some(&Value::Timestamp(1_700_000_000_500)));
    }

    #[test]
    fn reports_every_bad_field_once() {
        let err = decoder()
            .decode(br#"{"sensor_id": "seven", "ts": "yesterday", "unit": 3, "ok": null}"#)
            .unwrap_err();
        let DecodeError::Fields(fields) = &err else {
            panic!("unexpected {err:?}")
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["sensor_id", "ts", "unit", "value"]);
        let msg = err.to_string();
        assert!(
            msg.contains("field `sensor_id`: expected BIGINT, found string \"seven\""),
            "{msg}"
        );
        assert!(
            msg.contains("field `ts`: cannot parse \"yesterday\" as a timestamp"),
            "{msg}"
        );
        assert!(msg.contains("field `value`: missing required DOUBLE field"), "{msg}");
    }

    #[test]
    fn rejects_non_objects_malformed_and_invalid_utf8() {
        let d = decoder();
        assert_eq!(
            d.decode(b"[1,2]").unwrap_err(),
            DecodeError::NotAnObject("an array".into())
        );
        assert!(matches!(
            d.decode(br#"{"sensor_id": 1,"#),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            d.decode(br#"{"sensor_id": 1} x"#),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            d.decode(b"{\"unit\": \"\xff\"}").unwrap_err(),
            DecodeError::InvalidUtf8 { valid_up_to: 10 }
        );
    }

    #[test]
    fn rejects_null_required_fractional_ints_and_duplicates() {
        let d = decoder();
        let err = d
            .decode(br#"{"sensor_id": 1.5, "ts": 1, "value": null, "unit": "a", "unit": "b"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("field `sensor_id`: expected BIGINT, found number 1.5"),
            "{err}"
        );
        assert!(err.contains("field `value`: must not be null"), "{err}");
        assert!(err.contains("field `unit`: appears more than once"), "{err}");
    }

    #[test]
    fn enforces_the_size_limit() {
        let d = decoder().with_max_record_bytes(8);
        assert_eq!(
            d.decode(br#"{"sensor_id": 1}"#).unwrap_err(),
            DecodeError::Oversized { size: 16, limit: 8 }
        );
    }
}
