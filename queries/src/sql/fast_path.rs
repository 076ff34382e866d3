//! The key-lookup fast path: `SELECT cols FROM projection WHERE key = v [ORDER BY …] [LIMIT n]`
//! answered straight from the frozen projection, without a DataFusion session or plan.
//!
//! A point lookup spends almost all of its time in DataFusion's fixed costs — a session with
//! its function registry, planning, optimising and a physical plan — not in the O(log n)
//! lookup itself. Like Materialize's fast-path peeks, statements of exactly this shape skip
//! all of that:
//!
//! * one unaliased projection of the default schema, no joins, no subqueries;
//! * `*` or plain column names;
//! * `WHERE` a conjunction of `column = literal` / `column = $n`, one per key column and on
//!   key columns only, with literals of the column's own type (integers for integer keys,
//!   strings for text keys — anything needing a cast goes to DataFusion);
//! * optionally `ORDER BY` plain columns and `LIMIT` an integer.
//!
//! Anything else — including every clause this module does not know — goes the normal way.
//! The shape check is closed by a round trip: the statement must print (sqlparser's
//! `Display`) exactly as the parts this module understood would print, so a clause the
//! parser accepts but this module ignores can never be dropped silently. The answer must
//! equal DataFusion's for the same statement; `tests/sql_fast_path.rs` checks that on
//! every shape, with DataFusion as the oracle.

use std::sync::Arc;

use arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Ident, LimitClause, ObjectNamePart, OrderByKind, Query, Select, SelectItem, SetExpr,
    Statement, TableFactor, Value,
};
use serde_json::Value as Json;
use tributary_engine::FrozenTable;

/// A statement this module answers, as far as it could be read without a catalog.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyLookup {
    /// The projection (unqualified, or qualified with the default schema).
    pub(crate) table: String,
    /// The selected columns; `None` for `*`.
    columns: Option<Vec<String>>,
    /// `(column, operand)` per equality of the `WHERE` conjunction.
    equalities: Vec<(String, Operand)>,
    /// `(column, descending, nulls_first)` per `ORDER BY` item.
    order_by: Vec<(String, bool, bool)>,
    limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Integer(i64),
    Text(String),
    /// `$n`, 1-based.
    Param(usize),
}

/// The rows a [`KeyLookup`] answers with, and whether they were cut at the row limit.
#[derive(Debug)]
pub(crate) struct LookupAnswer {
    pub(crate) schema: SchemaRef,
    pub(crate) batch: RecordBatch,
    pub(crate) truncated: bool,
}

impl KeyLookup {
    /// Reads `statement` as a key lookup, if it is exactly one (see the module docs).
    pub(crate) fn parse(statement: &DfStatement) -> Option<Self> {
        let DfStatement::Statement(statement) = statement else {
            return None;
        };
        let Statement::Query(query) = statement.as_ref() else {
            return None;
        };
        let lookup = Self::from_query(query)?;
        (render(query)? == statement.to_string()).then_some(lookup)
    }

    fn from_query(query: &Query) -> Option<Self> {
        let SetExpr::Select(select) = query.body.as_ref() else {
            return None;
        };
        let table = table_name(select)?;
        let columns = match select.projection.as_slice() {
            [SelectItem::Wildcard(_)] => None,
            items => Some(
                items
                    .iter()
                    .map(|item| match item {
                        SelectItem::UnnamedExpr(Expr::Identifier(ident)) => Some(normalize(ident)),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
        };
        let mut equalities = Vec::new();
        conjuncts(select.selection.as_ref()?, &mut equalities)?;
        let order_by = match &query.order_by {
            None => Vec::new(),
            Some(order) if order.interpolate.is_none() => match &order.kind {
                OrderByKind::Expressions(items) => items
                    .iter()
                    .map(|item| match (&item.expr, &item.with_fill) {
                        (Expr::Identifier(ident), None) => {
                            let descending = item.options.asc == Some(false);
                            Some((
                                normalize(ident),
                                descending,
                                item.options.nulls_first.unwrap_or(descending),
                            ))
                        }
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?,
                OrderByKind::All(_) => return None,
            },
            Some(_) => return None,
        };
        let limit = match &query.limit_clause {
            None => None,
            Some(LimitClause::LimitOffset {
                limit: Some(Expr::Value(v)),
                offset: None,
                limit_by,
            }) if limit_by.is_empty() => match &v.value {
                Value::Number(n, false) => Some(n.parse().ok()?),
                _ => return None,
            },
            Some(_) => return None,
        };
        Some(Self {
            table,
            columns,
            equalities,
            order_by,
            limit,
        })
    }

    /// Answers from `table` with `params` for `$n`, cutting at `row_limit` when the statement
    /// has no `LIMIT`. `None` when the statement needs DataFusion after all: the equalities do
    /// not name exactly the key columns, an operand's type is not the column's, a column does
    /// not exist (DataFusion reports that), or the lookup cannot decode the key.
    pub(crate) fn answer(&self, table: &dyn FrozenTable, params: &[Json], row_limit: usize) -> Option<LookupAnswer> {
        let schema = table.schema();
        let keys = table.key_columns();
        if keys.is_empty() || self.equalities.len() != keys.len() {
            return None;
        }
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            let mut matching = self.equalities.iter().filter(|(c, _)| c == key);
            let (_, operand) = matching.next()?;
            if matching.next().is_some() {
                return None;
            }
            let field = schema.field_with_name(key).ok()?;
            values.push(json_key(operand, field.data_type(), params)?);
        }
        let key = if values.len() == 1 {
            values.pop()?
        } else {
            Json::Array(values)
        };
        let rows = table.lookup(&[key]).ok()?;
        let rows = self.sorted(rows)?;
        let (rows, truncated) = match self.limit {
            Some(n) => (rows.slice(0, n.min(rows.num_rows())), false),
            None if rows.num_rows() > row_limit => (rows.slice(0, row_limit), true),
            None => (rows, false),
        };
        let batch = match &self.columns {
            None => rows,
            Some(columns) => {
                let indices = columns
                    .iter()
                    .map(|c| schema.index_of(c).ok())
                    .collect::<Option<Vec<_>>>()?;
                rows.project(&indices).ok()?
            }
        };
        let schema = Arc::new(Schema::new(batch.schema().fields().clone()));
        let batch = batch.with_schema(schema.clone()).ok()?;
        Some(LookupAnswer {
            schema,
            batch,
            truncated,
        })
    }

    fn sorted(&self, rows: RecordBatch) -> Option<RecordBatch> {
        if self.order_by.is_empty() || rows.num_rows() < 2 {
            return Some(rows);
        }
        let columns = self
            .order_by
            .iter()
            .map(|(name, descending, nulls_first)| {
                Some(SortColumn {
                    values: rows.column(rows.schema().index_of(name).ok()?).clone(),
                    options: Some(SortOptions {
                        descending: *descending,
                        nulls_first: *nulls_first,
                    }),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let indices = lexsort_to_indices(&columns, None).ok()?;
        take_record_batch(&rows, &indices).ok()
    }
}

/// DataFusion's identifier rule: unquoted names are lower-cased, quoted ones kept.
fn normalize(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The one plain table of `select`'s `FROM`, if that is all it reads.
fn table_name(select: &Select) -> Option<String> {
    let [from] = select.from.as_slice() else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let TableFactor::Table {
        name,
        alias: None,
        args: None,
        ..
    } = &from.relation
    else {
        return None;
    };
    let parts = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(ident) => Some(normalize(ident)),
            ObjectNamePart::Function(_) => None,
        })
        .collect::<Option<Vec<_>>>()?;
    match parts.as_slice() {
        [table] => Some(table.clone()),
        [schema, table] if schema == "public" => Some(table.clone()),
        _ => None,
    }
}

/// Collects `column = operand` terms of an `AND` tree; `None` on any other term.
fn conjuncts(expr: &Expr, out: &mut Vec<(String, Operand)>) -> Option<()> {
    let Expr::BinaryOp { left, op, right } = expr else {
        return None;
    };
    match op {
        BinaryOperator::And => {
            conjuncts(left, out)?;
            conjuncts(right, out)
        }
        BinaryOperator::Eq => {
            let (ident, value) = match (left.as_ref(), right.as_ref()) {
                (Expr::Identifier(i), Expr::Value(v)) | (Expr::Value(v), Expr::Identifier(i)) => (i, &v.value),
                _ => return None,
            };
            let operand = match value {
                Value::Number(n, false) => Operand::Integer(n.parse().ok()?),
                Value::SingleQuotedString(s) => Operand::Text(s.clone()),
                Value::Placeholder(p) => Operand::Param(p.strip_prefix('$')?.parse().ok().filter(|n| *n >= 1)?),
                _ => return None,
            };
            out.push((normalize(ident), operand));
            Some(())
        }
        _ => None,
    }
}

/// The key value `operand` gives a column of type `data_type`, if no cast is involved.
fn json_key(operand: &Operand, data_type: &DataType, params: &[Json]) -> Option<Json> {
    let value = match operand {
        Operand::Integer(i) => Json::from(*i),
        Operand::Text(s) => Json::from(s.as_str()),
        Operand::Param(n) => params.get(n - 1)?.clone(),
    };
    let fits = match data_type {
        t if t.is_integer() => value.is_i64() || value.is_u64(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => value.is_string(),
        _ => false,
    };
    fits.then_some(value)
}

/// How `query` prints if it is nothing but a select with its `ORDER BY` and `LIMIT`: the
/// round trip that keeps clauses this module does not read out of the fast path.
fn render(query: &Query) -> Option<String> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let items: Vec<String> = select.projection.iter().map(ToString::to_string).collect();
    let mut sql = format!(
        "SELECT {} FROM {} WHERE {}",
        items.join(", "),
        select.from.first()?,
        select.selection.as_ref()?
    );
    if let Some(order) = &query.order_by {
        sql.push(' ');
        sql.push_str(&order.to_string());
    }
    if let Some(limit) = &query.limit_clause {
        sql.push_str(&limit.to_string());
    }
    Some(sql)
}
