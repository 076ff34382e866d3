//! min, max and last against the oracle, with retractions of the current extremum.

use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{LastPerKey, MaxPerKey, MinPerKey};

use crate::oracle::{Event, check_every_epoch, groups, keyed_events, set_of};

fn min(c: Collection<'_, Event>) -> Collection<'_, (u8, i64)> {
    c.map(|(k, (_, v))| (k, v)).min_per_key()
}

fn max(c: Collection<'_, Event>) -> Collection<'_, (u8, i64)> {
    c.map(|(k, (_, v))| (k, v)).max_per_key()
}

fn last(c: Collection<'_, Event>) -> Collection<'_, (u8, (i64, i64))> {
    c.last_per_key()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn min_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, min, |input, output| {
            let expected = set_of(groups(input).into_iter().filter_map(|(k, vs)| vs.iter().map(|(_, v)| *v).min().map(|m| (k, m))));
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }

    #[test]
    fn max_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, max, |input, output| {
            let expected = set_of(groups(input).into_iter().filter_map(|(k, vs)| vs.iter().map(|(_, v)| *v).max().map(|m| (k, m))));
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }

    #[test]
    fn last_is_greatest_event_time_not_latest_arrival(epochs in keyed_events()) {
        check_every_epoch(epochs, last, |input, output| {
            // Greatest event time; ties broken by the greater value.
            let expected = set_of(groups(input).into_iter().filter_map(|(k, vs)| vs.into_iter().max().map(|tv| (k, tv))));
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }
}

/// Many values per key: the hierarchical buckets must still find the extremum.
#[test]
fn extremes_over_many_values_survive_retracting_the_extremum() -> Result<(), TestCaseError> {
    let inserts: Vec<(Event, isize)> = (0..5_000i64).map(|i| ((0u8, (i, (i * 7919) % 10_007)), 1)).collect();
    let max_value = inserts.iter().map(|((_, (_, v)), _)| *v).max().unwrap_or_default();
    let retract_max: Vec<(Event, isize)> = inserts
        .iter()
        .filter(|((_, (_, v)), _)| *v == max_value)
        .map(|(e, _)| (*e, -1))
        .collect();
    check_every_epoch(vec![inserts, retract_max], max, |input, output| {
        let expected = set_of(
            groups(input)
                .into_iter()
                .filter_map(|(k, vs)| vs.iter().map(|(_, v)| *v).max().map(|m| (k, m))),
        );
        prop_assert_eq!(output, &expected);
        Ok(())
    })
}
