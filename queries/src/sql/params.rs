//! Positional parameters: JSON scalars bound to `$1`, `$2`, … of a planned statement.
//!
//! A JSON value becomes the natural SQL scalar (integer → `BIGINT`, other number → `DOUBLE`,
//! string → `VARCHAR`, boolean, `null`) and is then cast to the type DataFusion inferred for
//! the placeholder, if it inferred one (`WHERE ts > $1` makes `$1` a timestamp), so a client
//! never has to know the column's exact Arrow type.

use datafusion::common::{ParamValues, ScalarValue};
use datafusion::logical_expr::LogicalPlan;
use serde_json::Value;

use super::QueryError;

/// Binds `params` to the placeholders of `plan`.
pub(crate) fn bind(plan: LogicalPlan, params: &[Value]) -> Result<LogicalPlan, QueryError> {
    let types = plan
        .get_parameter_types()
        .map_err(|e| QueryError::InvalidParams(e.strip_backtrace()))?;
    let mut values = Vec::with_capacity(params.len());
    for (index, param) in params.iter().enumerate() {
        let name = format!("${}", index + 1);
        let scalar = scalar(param).ok_or_else(|| {
            QueryError::InvalidParams(format!(
                "{name} is {param}; a parameter must be null, a boolean, a number or a string"
            ))
        })?;
        let scalar = match types.get(&name) {
            Some(Some(ty)) if !scalar.is_null() || ty.is_null() => scalar.cast_to(ty).map_err(|e| {
                QueryError::InvalidParams(format!("{name} = {param} is not a {ty}: {}", e.strip_backtrace()))
            })?,
            Some(Some(ty)) => ScalarValue::try_from(ty)
                .map_err(|e| QueryError::InvalidParams(format!("{name}: {}", e.strip_backtrace())))?,
            _ => scalar,
        };
        values.push(scalar);
    }
    plan.with_param_values(ParamValues::from(values))
        .map_err(|e| QueryError::InvalidParams(e.strip_backtrace()))
}

/// The SQL scalar of one JSON value, `None` for arrays and objects.
fn scalar(value: &Value) -> Option<ScalarValue> {
    Some(match value {
        Value::Null => ScalarValue::Null,
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => ScalarValue::Int64(Some(i)),
            (None, Some(u), _) => ScalarValue::UInt64(Some(u)),
            (None, None, f) => ScalarValue::Float64(f),
        },
        Value::String(s) => ScalarValue::Utf8(Some(s.clone())),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_scalars_map_to_sql_scalars() {
        assert_eq!(scalar(&json!(7)), Some(ScalarValue::Int64(Some(7))));
        assert_eq!(scalar(&json!(u64::MAX)), Some(ScalarValue::UInt64(Some(u64::MAX))));
        assert_eq!(scalar(&json!(1.5)), Some(ScalarValue::Float64(Some(1.5))));
        assert_eq!(scalar(&json!("a")), Some(ScalarValue::Utf8(Some("a".into()))));
        assert_eq!(scalar(&json!(true)), Some(ScalarValue::Boolean(Some(true))));
        assert_eq!(scalar(&json!(null)), Some(ScalarValue::Null));
        assert_eq!(scalar(&json!([1])), None);
        assert_eq!(scalar(&json!({"a": 1})), None);
    }
}
