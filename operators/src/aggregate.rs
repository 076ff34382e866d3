//! Exact count and sum carried in differential's difference, and the operator built on it.

use std::hash::Hash;

use std::ops::{Add, AddAssign, Neg};

use differential_dataflow::ExchangeData;
use differential_dataflow::difference::{Abelian, IsZero, Monoid, Multiply, Semigroup};
use differential_dataflow::operators::CountTotal;
use ordered_float::OrderedFloat;
use serde::{Deserialize, Serialize};
use tributary_engine::Collection;

/// A sum in fixed point with 10⁻⁹ units, accumulated as an `i128`: exact, associative and
/// commutative, so sums never drift with arrival order.
///
/// Each `f64` is rounded once to the nearest 10⁻⁹ on the way in; integers convert exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExactSum(pub i128);

impl ExactSum {
    /// Units per 1.0.
    pub const SCALE: i128 = 1_000_000_000;

    /// The fixed-point value of `v`, rounded to 10⁻⁹ (saturating beyond ±1.7e29).
    pub fn from_f64(v: f64) -> Self {
        Self((v * Self::SCALE as f64).round() as i128)
    }

    /// The exact value of an integer.
    pub fn from_i64(v: i64) -> Self {
        Self(i128::from(v) * Self::SCALE)
    }

    /// The sum as an `f64` (one rounding, at the end).
    pub fn to_f64(self) -> f64 {
        let whole = self.0 / Self::SCALE;
        let frac = self.0 % Self::SCALE;
        whole as f64 + frac as f64 / Self::SCALE as f64
    }
}

impl Add for ExactSum {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0 + rhs.0)
    }
}

impl AddAssign for ExactSum {
    fn add_assign(&mut self, rhs: Self) {
        self.0 += rhs.0;
    }
}

impl Neg for ExactSum {
    type Output = Self;
    fn neg(self) -> Self {
        Self(-self.0)
    }
}

/// Values that can be summed exactly.
pub trait Summand {
    /// The value in fixed point.
    fn exact(&self) -> ExactSum;
}

impl Summand for i64 {
    fn exact(&self) -> ExactSum {
        ExactSum::from_i64(*self)
    }
}

impl Summand for f64 {
    fn exact(&self) -> ExactSum {
        ExactSum::from_f64(*self)
    }
}

impl Summand for OrderedFloat<f64> {
    fn exact(&self) -> ExactSum {
        ExactSum::from_f64(self.0)
    }
}

/// Count and exact sum of a key's values, used as a differential difference so that an
/// update costs O(1) per key: inserting a value adds `(1, v)`, retracting adds `(-1, -v)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Aggregate {
    /// Number of values.
    pub count: i64,
    /// Their exact sum.
    pub sum: ExactSum,
}

impl Aggregate {
    /// The contribution of one value.
    pub fn of<V: Summand>(v: &V) -> Self {
        Self {
            count: 1,
            sum: v.exact(),
        }
    }

    /// The sum as `f64`.
    pub fn sum_f64(&self) -> f64 {
        self.sum.to_f64()
    }

    /// The mean, or `None` for an empty group. Computed from the exact sum, so it is the same
    /// whatever order the values arrived in.
    pub fn avg(&self) -> Option<f64> {
        (self.count > 0).then(|| {
            let scaled = self.sum.0 as f64 / self.count as f64;
            scaled / ExactSum::SCALE as f64
        })
    }
}

impl IsZero for Aggregate {
    fn is_zero(&self) -> bool {
        self.count == 0 && self.sum.0 == 0
    }
}

impl Semigroup for Aggregate {
    fn plus_equals(&mut self, rhs: &Self) {
        self.count += rhs.count;
        self.sum += rhs.sum;
    }
}

impl Monoid for Aggregate {
    fn zero() -> Self {
        Self::default()
    }
}

impl Abelian for Aggregate {
    fn negate(&mut self) {
        self.count = -self.count;
        self.sum = -self.sum;
    }
}

impl Multiply<isize> for Aggregate {
    type Output = Self;
    fn multiply(self, rhs: &isize) -> Self {
        let r = *rhs as i64;
        Self {
            count: self.count * r,
            sum: ExactSum(self.sum.0 * i128::from(r)),
        }
    }
}

/// Count, exact sum and mean per key from one arrangement.
pub trait AggregatePerKey<'scope, K> {
    /// One `(key, Aggregate)` per key with at least one value.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::{Aggregate, AggregatePerKey, ExactSum, OrderedFloat};
    ///
    /// timely::example(|scope| {
    ///     scope.new_collection_from(vec![(1i64, OrderedFloat(2.5)), (1, OrderedFloat(0.5)), (2, OrderedFloat(4.0))]).1
    ///         .aggregate_per_key()
    ///         .inspect(|((key, agg), _time, _diff)| if *key == 1 { assert_eq!(agg.avg(), Some(1.5)) });
    /// });
    /// assert_eq!(Aggregate { count: 2, sum: ExactSum::from_f64(3.0) }.avg(), Some(1.5));
    /// ```
    fn aggregate_per_key(self) -> Collection<'scope, (K, Aggregate)>;
}

impl<'scope, K, V> AggregatePerKey<'scope, K> for Collection<'scope, (K, V)>
where
    K: ExchangeData + Hash,
    V: Summand + Clone + 'static,
{
    fn aggregate_per_key(self) -> Collection<'scope, (K, Aggregate)> {
        self.explode(|(k, v)| Some((k, Aggregate::of(&v)))).count_total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sum_is_order_independent() {
        let values = [0.1, 0.2, 0.3, 1e10, -1e10, 7.25];
        let forward = values.iter().fold(ExactSum::default(), |s, v| s + v.exact());
        let backward = values.iter().rev().fold(ExactSum::default(), |s, v| s + v.exact());
        assert_eq!(forward, backward);
        assert_eq!(forward.to_f64(), 7.85);
        assert_eq!(ExactSum::from_i64(-3).to_f64(), -3.0);
    }

    #[test]
    fn aggregate_retracts_to_zero() {
        let mut a = Aggregate::of(&2.5);
        a.plus_equals(&Aggregate::of(&1.0).multiply(&2));
        assert_eq!(a.count, 3);
        assert_eq!(a.avg(), Some(1.5));
        let mut r = a;
        r.negate();
        a.plus_equals(&r);
        assert!(a.is_zero());
        assert_eq!(a.avg(), None);
    }
}
