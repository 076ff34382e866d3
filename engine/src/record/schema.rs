//! Stream schemas: typed columns, an event-time column and key columns.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::EngineError;

/// The column types a schema-driven stream can declare; each maps to one Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// `BOOLEAN`.
    Boolean,
    /// `BIGINT` (Arrow `Int64`).
    Int64,
    /// `DOUBLE` (Arrow `Float64`).
    Float64,
    /// `VARCHAR` (Arrow `Utf8`).
    Utf8,
    /// `TIMESTAMP` in milliseconds, UTC. JSON may carry epoch milliseconds or an RFC 3339 string.
    TimestampMs,
}

impl ColumnType {
    /// The Arrow type of this column.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::TimestampMs => DataType::Timestamp(TimeUnit::Millisecond, None),
        }
    }

    /// The SQL name used in error messages.
    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Int64 => "BIGINT",
            ColumnType::Float64 => "DOUBLE",
            ColumnType::Utf8 => "VARCHAR",
            ColumnType::TimestampMs => "TIMESTAMP",
        }
    }
}

/// One column of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Column name, also the JSON field name.
    pub name: String,
    /// Column type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether the column may be absent or `null` (default: `false`, i.e. required).
    #[serde(default)]
    pub nullable: bool,
}

impl Column {
    /// A required column.
    pub fn required(name: impl Into<String>, ty: ColumnType) -> Self {
        Self {
            name: name.into(),
            ty,
            nullable: false,
        }
    }

    /// A nullable column.
    pub fn nullable(name: impl Into<String>, ty: ColumnType) -> Self {
        Self {
            name: name.into(),
            ty,
            nullable: true,
        }
    }
}

/// A validated stream schema: named, typed columns, an optional event-time column and key
/// columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSchema {
    name: String,
    columns: Vec<Column>,
    event_time: Option<usize>,
    key: Vec<usize>,
}

impl StreamSchema {
    /// Validates and builds a schema: column names must be unique and non-empty.
    pub fn try_new(name: impl Into<String>, columns: Vec<Column>) -> Result<Self, EngineError> {
        let name = name.into();
        let fail = |reason: String| EngineError::Schema {
            stream: name.clone(),
            reason,
        };
        if columns.is_empty() {
            return Err(fail("a stream needs at least one column".into()));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.name.is_empty() {
                return Err(fail(format!("column {i} has an empty name")));
            }
            if columns[..i].iter().any(|o| o.name == c.name) {
                return Err(fail(format!("column `{}` is declared twice", c.name)));
            }
        }
        Ok(Self {
            name,
            columns,
            event_time: None,
            key: Vec::new(),
        })
    }

    /// Declares the event-time column; it must exist, be a `TIMESTAMP` or `BIGINT` (epoch
    /// milliseconds) and not be nullable.
    pub fn with_event_time(mut self, column: &str) -> Result<Self, EngineError> {
        let idx = self
            .index_of(column)
            .ok_or_else(|| self.error(format!("event-time column `{column}` does not exist")))?;
        let c = &self.columns[idx];
        if !matches!(c.ty, ColumnType::TimestampMs | ColumnType::Int64) || c.nullable {
            return Err(self.error(format!(
                "event-time column `{column}` must be a non-nullable TIMESTAMP or BIGINT, not {}",
                c.ty.sql_name()
            )));
        }
        self.event_time = Some(idx);
        Ok(self)
    }

    /// Declares the key columns, in order.
    pub fn with_key(mut self, columns: &[&str]) -> Result<Self, EngineError> {
        let mut key = Vec::with_capacity(columns.len());
        for column in columns {
            let idx = self
                .index_of(column)
                .ok_or_else(|| self.error(format!("key column `{column}` does not exist")))?;
            key.push(idx);
        }
        self.key = key;
        Ok(self)
    }

    fn error(&self, reason: String) -> EngineError {
        EngineError::Schema {
            stream: self.name.clone(),
            reason,
        }
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The columns, in declaration order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Position of a column by name.
    pub fn index_of(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == column)
    }

    /// Position of the event-time column, if declared.
    pub fn event_time_index(&self) -> Option<usize> {
        self.event_time
    }

    /// Positions of the key columns.
    pub fn key_indices(&self) -> &[usize] {
        &self.key
    }

    /// The Arrow schema SQL sees for this stream.
    pub fn arrow_schema(&self) -> Arc<Schema> {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.ty.arrow_type(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings() -> Result<StreamSchema, EngineError> {
        StreamSchema::try_new(
            "readings",
            vec![
                Column::required("sensor_id", ColumnType::Int64),
                Column::required("ts", ColumnType::TimestampMs),
                Column::required("value", ColumnType::Float64),
                Column::nullable("unit", ColumnType::Utf8),
            ],
        )?
        .with_event_time("ts")?
        .with_key(&["sensor_id"])
    }

    #[test]
    fn valid_schema_maps_to_arrow() -> Result<(), EngineError> {
        let s = readings()?;
        assert_eq!(s.event_time_index(), Some(1));
        assert_eq!(s.key_indices(), &[0]);
        let arrow = s.arrow_schema();
        assert_eq!(
            arrow.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, None)
        );
        assert!(arrow.field(3).is_nullable());
        Ok(())
    }

    #[test]
    fn rejects_bad_declarations() {
        let dup = StreamSchema::try_new(
            "s",
            vec![
                Column::required("a", ColumnType::Int64),
                Column::required("a", ColumnType::Utf8),
            ],
        );
        assert!(dup.unwrap_err().to_string().contains("declared twice"));
        let s = StreamSchema::try_new("s", vec![Column::required("a", ColumnType::Utf8)]);
        let err = s.and_then(|s| s.with_event_time("a")).unwrap_err();
        assert!(err.to_string().contains("must be a non-nullable TIMESTAMP"));
        let missing =
            StreamSchema::try_new("s", vec![Column::required("a", ColumnType::Int64)]).and_then(|s| s.with_key(&["b"]));
        assert!(missing.unwrap_err().to_string().contains("`b` does not exist"));
    }
}
