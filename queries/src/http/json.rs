//! The JSON response format: `{"columns": [{"name", "type"}], "rows": [[...]], "as_of": n,
//! "truncated": bool}`, and the value encoding NDJSON shares.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, Schema, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::QueryResult;

/// A result column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonColumn {
    /// Column name.
    pub name: String,
    /// SQL type name (`BIGINT`, `DOUBLE`, `VARCHAR`, `TIMESTAMP`, ...).
    #[serde(rename = "type")]
    pub ty: String,
}

/// A result as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonResult {
    /// The columns, in order.
    pub columns: Vec<JsonColumn>,
    /// One array of values per row, in column order.
    pub rows: Vec<Vec<Value>>,
    /// The frontier the live projections were read at.
    pub as_of: u64,
    /// Whether rows were cut at the default row limit.
    #[serde(default)]
    pub truncated: bool,
}

/// Encodes a query result: numbers and booleans as JSON scalars, timestamps as ISO 8601
/// strings, everything else as Arrow's display form.
pub fn encode_result(result: &QueryResult) -> Result<JsonResult, String> {
    let mut rows = Vec::new();
    for batch in &result.batches {
        rows.extend(encode_rows(batch)?);
    }
    Ok(JsonResult {
        columns: encode_columns(&result.schema),
        rows,
        as_of: result.as_of,
        truncated: result.truncated,
    })
}

/// The columns of `schema` with their SQL type names.
pub(crate) fn encode_columns(schema: &Schema) -> Vec<JsonColumn> {
    schema
        .fields()
        .iter()
        .map(|f| JsonColumn {
            name: f.name().clone(),
            ty: sql_type_name(f.data_type()),
        })
        .collect()
}

/// The rows of `batch`, one array of values per row in column order, encoded as in
/// [`encode_result`].
pub(crate) fn encode_rows(batch: &RecordBatch) -> Result<Vec<Vec<Value>>, String> {
    let options = FormatOptions::default().with_null("");
    let mut encoded: Vec<Vec<Value>> = vec![Vec::with_capacity(batch.num_columns()); batch.num_rows()];
    for column in batch.columns() {
        let formatter = ArrayFormatter::try_new(column.as_ref(), &options).map_err(|e| e.to_string())?;
        for (row, out) in encoded.iter_mut().enumerate() {
            out.push(json_value(column.as_ref(), row, &formatter));
        }
    }
    Ok(encoded)
}

/// One cell as JSON (see [`encode_result`]).
pub(super) fn json_value(array: &dyn Array, row: usize, formatter: &ArrayFormatter<'_>) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).into(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).into(),
        DataType::Float32 => float(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row)),
        _ => Value::String(formatter.value(row).to_string()),
    }
}

/// Finite floats as numbers; NaN and infinities as strings (JSON has no literal for them).
fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)
}

fn sql_type_name(ty: &DataType) -> String {
    match ty {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => format!("{ty}").to_uppercase(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Timestamp(_, _) => "TIMESTAMP".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{Field, TimeUnit};

    use super::*;

    #[test]
    fn encodes_rows_as_arrays() -> Result<(), Box<dyn std::error::Error>> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Float64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN)])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
                Arc::new(TimestampMillisecondArray::from(vec![1_700_000_000_000, 0])),
            ],
        )?;
        let out = encode_result(&QueryResult {
            schema,
            batches: vec![batch],
            as_of: 9,
            truncated: false,
        })?;
        assert_eq!(out.columns[3].ty, "TIMESTAMP");
        assert_eq!(
            serde_json::to_value(&out.rows)?,
            serde_json::json!([
                [1, 1.5, "a", "2023-11-14T22:13:20"],
                [2, "NaN", null, "1970-01-01T00:00:00"]
            ])
        );
        assert_eq!(out.as_of, 9);
        Ok(())
    }
}
