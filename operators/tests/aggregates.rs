//! count, sum, avg and aggregate against the oracle.

use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{Aggregate, AggregatePerKey, AvgPerKey, CountPerKey, ExactSum, OrderedFloat, SumPerKey};

use crate::oracle::{Event, check_every_epoch, groups, keyed_events, set_of};

fn count(c: Collection<'_, Event>) -> Collection<'_, (u8, i64)> {
    c.map(|(k, (_, v))| (k, v)).count_per_key()
}

fn sum(c: Collection<'_, Event>) -> Collection<'_, (u8, ExactSum)> {
    c.map(|(k, (_, v))| (k, OrderedFloat(v as f64 / 8.0))).sum_per_key()
}

fn avg(c: Collection<'_, Event>) -> Collection<'_, (u8, OrderedFloat<f64>)> {
    c.map(|(k, (_, v))| (k, v)).avg_per_key()
}

fn aggregate(c: Collection<'_, Event>) -> Collection<'_, (u8, Aggregate)> {
    c.map(|(k, (_, v))| (k, v)).aggregate_per_key()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn count_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, count, |input, output| {
            let expected = set_of(groups(input).into_iter().map(|(k, vs)| (k, vs.len() as i64)));
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }

    #[test]
    fn sum_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, sum, |input, output| {
            // Values are multiples of 1/8, exact in binary and in 10⁻⁹ fixed point.
            let expected = set_of(groups(input).into_iter().map(|(k, vs)| {
                let total: f64 = vs.iter().map(|(_, v)| *v as f64 / 8.0).sum();
                (k, ExactSum::from_f64(total))
            }));
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }

    #[test]
    fn avg_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, avg, |input, output| {
            let expected: Vec<(u8, f64)> = groups(input)
                .into_iter()
                .map(|(k, vs)| (k, vs.iter().map(|(_, v)| *v as f64).sum::<f64>() / vs.len() as f64))
                .collect();
            let actual: Vec<(u8, f64)> = output.iter().map(|((k, m), n)| { assert_eq!(*n, 1); (*k, m.0) }).collect();
            prop_assert_eq!(actual.len(), expected.len());
            for ((ka, a), (ke, e)) in actual.iter().zip(&expected) {
                prop_assert_eq!(ka, ke);
                prop_assert!((a - e).abs() <= 1e-12 * e.abs().max(1.0), "avg {a} != {e}");
            }
            Ok(())
        })?;
    }

    #[test]
    fn aggregate_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, aggregate, |input, output| {
            let expected = set_of(groups(input).into_iter().map(|(k, vs)| {
                let sum = vs.iter().map(|(_, v)| ExactSum::from_i64(*v)).fold(ExactSum::default(), |a, b| a + b);
                (k, Aggregate { count: vs.len() as i64, sum })
            }));
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }
}
