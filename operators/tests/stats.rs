//! stats_per_key: all statistics in one row, against the oracle.

use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{Aggregate, ExactSum, KeyStats, StatsPerKey};

use crate::oracle::{Event, check_every_epoch, groups, keyed_events, set_of};

fn stats(c: Collection<'_, Event>) -> Collection<'_, (u8, KeyStats<i64>)> {
    c.stats_per_key()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn stats_match_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, stats, |input, output| {
            let expected = set_of(groups(input).into_iter().filter_map(|(k, vs)| {
                let (last_ts, last) = *vs.iter().max()?;
                Some((k, KeyStats {
                    aggregate: Aggregate {
                        count: vs.len() as i64,
                        sum: vs.iter().map(|(_, v)| ExactSum::from_i64(*v)).fold(ExactSum::default(), |a, b| a + b),
                    },
                    min: vs.iter().map(|(_, v)| *v).min()?,
                    max: vs.iter().map(|(_, v)| *v).max()?,
                    last_ts,
                    last,
                }))
            }));
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }
}
