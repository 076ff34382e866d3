//! The dynamic row: a vector of typed values, totally ordered so it can be a differential key.

use std::sync::Arc;

use ordered_float::OrderedFloat;
use serde::{Deserialize, Serialize};

/// One typed value of a dynamic [`Row`].
///
/// Floats are wrapped in [`OrderedFloat`] so rows are `Ord` (differential arranges by order);
/// strings are shared (`Arc<str>`) because rows are cloned into several arrangements.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    /// SQL `NULL`: an absent nullable field.
    Null,
    /// A `BOOLEAN`.
    Bool(bool),
    /// A `BIGINT`.
    Int(i64),
    /// A `DOUBLE`.
    Float(OrderedFloat<f64>),
    /// A `VARCHAR`.
    Str(Arc<str>),
    /// A `TIMESTAMP`, milliseconds since the Unix epoch.
    Timestamp(i64),
}

impl Value {
    /// The value as an `i64`, for `BIGINT` and `TIMESTAMP` columns.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) | Value::Timestamp(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as an `f64`, for numeric columns.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(v) => Some(v.0),
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// The value as a string slice, for `VARCHAR` columns.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A record of a schema-driven stream: one [`Value`] per column of its
/// [`StreamSchema`](super::StreamSchema), in column order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Row(pub Box<[Value]>);

impl Row {
    /// The value of column `i`.
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.0.get(i)
    }

    /// The values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.0
    }
}
