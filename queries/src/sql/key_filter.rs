//! Which filters a projection can answer by key: `col = literal` and `col IN (literals)` on
//! its key columns, turned into the JSON keys [`FrozenTable::lookup`] decodes.
//!
//! [`FrozenTable::lookup`]: tributary_engine::FrozenTable::lookup

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, expr::InList};
use serde_json::Value;

/// Most keys one scan looks up (the product of the values of every key column); more and the
/// provider scans instead.
pub(crate) const MAX_LOOKUP_KEYS: usize = 10_000;

/// The key column `filter` constrains and the literal values it allows, if it is an equality
/// or a (non-negated) `IN` list on a key column with literals DataFusion's JSON mapping covers.
/// `NULL` literals are dropped: `col = NULL` is never true.
pub(crate) fn key_values(filter: &Expr, key_columns: &[String]) -> Option<(usize, Vec<Value>)> {
    let (column, literals): (&Expr, Vec<&Expr>) = match filter {
        // DataFusion rewrites a short `IN` list into `c = a OR c = b`.
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let (left_index, mut values) = key_values(left, key_columns)?;
            let (right_index, right_values) = key_values(right, key_columns)?;
            if left_index != right_index {
                return None;
            }
            values.extend(right_values);
            return Some((left_index, values));
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (left.as_ref(), right.as_ref()) {
            (c @ Expr::Column(_), l @ Expr::Literal(..)) | (l @ Expr::Literal(..), c @ Expr::Column(_)) => (c, vec![l]),
            _ => return None,
        },
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => (expr.as_ref(), list.iter().collect()),
        _ => return None,
    };
    let Expr::Column(column) = column else {
        return None;
    };
    let index = key_columns.iter().position(|k| *k == column.name)?;
    let mut values = Vec::with_capacity(literals.len());
    for literal in literals {
        let Expr::Literal(scalar, _) = literal else {
            return None;
        };
        if scalar.is_null() {
            continue;
        }
        values.push(json_of(scalar)?);
    }
    Some((index, values))
}

/// The keys to look up when every key column has a value set: one value per key for a key
/// of one column, an array of values in key-column order otherwise. `None` if a key column
/// is unconstrained or there would be more than [`MAX_LOOKUP_KEYS`].
pub(crate) fn lookup_keys(filters: &[Expr], key_columns: &[String]) -> Option<Vec<Value>> {
    if key_columns.is_empty() {
        return None;
    }
    let mut per_column: Vec<Option<Vec<Value>>> = vec![None; key_columns.len()];
    for filter in filters {
        if let Some((index, values)) = key_values(filter, key_columns) {
            // A second filter on the same column only narrows: the first is a superset,
            // and DataFusion re-applies every filter to the rows looked up.
            per_column[index].get_or_insert(values);
        }
    }
    let columns: Vec<Vec<Value>> = per_column.into_iter().collect::<Option<_>>()?;
    let total = columns
        .iter()
        .try_fold(1usize, |n, values| n.checked_mul(values.len()))?;
    if total > MAX_LOOKUP_KEYS {
        return None;
    }
    if let [only] = columns.as_slice() {
        return Some(only.clone());
    }
    let mut keys: Vec<Vec<Value>> = vec![Vec::new()];
    for values in &columns {
        keys = keys
            .iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut key = prefix.clone();
                    key.push(v.clone());
                    key
                })
            })
            .collect();
    }
    Some(keys.into_iter().map(Value::Array).collect())
}

/// A literal as the JSON value serde reads the key from; timestamps in milliseconds are
/// their epoch-millisecond integer (how `with_timestamp_ms` columns are stored).
fn json_of(scalar: &ScalarValue) -> Option<Value> {
    Some(match scalar {
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Int8(Some(v)) => (*v).into(),
        ScalarValue::Int16(Some(v)) => (*v).into(),
        ScalarValue::Int32(Some(v)) => (*v).into(),
        ScalarValue::Int64(Some(v)) | ScalarValue::TimestampMillisecond(Some(v), _) => (*v).into(),
        ScalarValue::UInt8(Some(v)) => (*v).into(),
        ScalarValue::UInt16(Some(v)) => (*v).into(),
        ScalarValue::UInt32(Some(v)) => (*v).into(),
        ScalarValue::UInt64(Some(v)) => (*v).into(),
        ScalarValue::Float64(Some(v)) => Value::Number(serde_json::Number::from_f64(*v)?),
        ScalarValue::Float32(Some(v)) => Value::Number(serde_json::Number::from_f64(f64::from(*v))?),
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Value::String(s.clone())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};
    use serde_json::json;

    use super::*;

    fn keys(columns: &[&str]) -> Vec<String> {
        columns.iter().map(|c| (*c).to_string()).collect()
    }

    #[test]
    fn equality_and_in_on_key_columns_become_keys() {
        let one = keys(&["id"]);
        assert_eq!(lookup_keys(&[col("id").eq(lit(3i64))], &one), Some(vec![json!(3)]));
        assert_eq!(lookup_keys(&[lit(3i64).eq(col("id"))], &one), Some(vec![json!(3)]));
        assert_eq!(
            lookup_keys(&[col("id").in_list(vec![lit(1i64), lit(2i64)], false)], &one),
            Some(vec![json!(1), json!(2)])
        );
        assert_eq!(
            lookup_keys(&[col("id").eq(lit(1i64)).or(col("id").eq(lit(2i64)))], &one),
            Some(vec![json!(1), json!(2)])
        );
        assert_eq!(
            lookup_keys(&[col("id").eq(lit(1i64)).or(col("x").eq(lit(2i64)))], &one),
            None
        );
        assert_eq!(lookup_keys(&[col("id").in_list(vec![lit(1i64)], true)], &one), None);
        assert_eq!(lookup_keys(&[col("other").eq(lit(3i64))], &one), None);
        assert_eq!(lookup_keys(&[col("id").gt(lit(3i64))], &one), None);
        assert_eq!(lookup_keys(&[], &one), None);
        assert_eq!(lookup_keys(&[col("id").eq(lit(3i64))], &[]), None);
    }

    #[test]
    fn a_two_column_key_needs_both_columns_and_takes_their_product() {
        let two = keys(&["rule", "id"]);
        assert_eq!(lookup_keys(&[col("id").eq(lit(3i64))], &two), None);
        assert_eq!(
            lookup_keys(
                &[
                    col("id").in_list(vec![lit(1i64), lit(2i64)], false),
                    col("rule").eq(lit("r")),
                ],
                &two
            ),
            Some(vec![json!(["r", 1]), json!(["r", 2])])
        );
    }

    #[test]
    fn too_many_keys_scan_instead() {
        let list: Vec<Expr> = (0..=MAX_LOOKUP_KEYS as i64).map(lit).collect();
        assert_eq!(lookup_keys(&[col("id").in_list(list, false)], &keys(&["id"])), None);
    }
}
