//! upsert and count_distinct_per_key against the oracle.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{CountDistinctPerKey, Upsert};

use crate::oracle::{Event, Multiset, check_every_epoch, groups, keyed_events, set_of};

/// A change event: values divisible by 4 are tombstones.
fn change((k, (ts, v)): Event) -> (u8, (i64, Option<i64>)) {
    (k, (ts, (v % 4 != 0).then_some(v)))
}

fn upsert(c: Collection<'_, Event>) -> Collection<'_, (u8, i64)> {
    c.map(change).upsert()
}

/// The state per key, written independently of the operator: among the changes with the
/// greatest event time, a tombstone wins; otherwise the greatest value.
fn upsert_oracle(input: &Multiset<Event>) -> Multiset<(u8, i64)> {
    let mut changes: BTreeMap<u8, Vec<(i64, Option<i64>)>> = BTreeMap::new();
    for (k, tv) in groups(input)
        .into_iter()
        .flat_map(|(k, tvs)| tvs.into_iter().map(move |tv| (k, tv)))
    {
        changes.entry(k).or_default().push(change((k, tv)).1);
    }
    set_of(changes.into_iter().filter_map(|(k, changes)| {
        let latest = changes.iter().map(|(ts, _)| *ts).max()?;
        let at_latest: Vec<Option<i64>> = changes
            .iter()
            .filter(|(ts, _)| *ts == latest)
            .map(|(_, v)| *v)
            .collect();
        if at_latest.contains(&None) {
            return None;
        }
        at_latest.into_iter().flatten().max().map(|v| (k, v))
    }))
}

fn count_distinct(c: Collection<'_, Event>) -> Collection<'_, (u8, i64)> {
    c.map(|(k, (_, v))| (k, v.rem_euclid(7))).count_distinct_per_key()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn upsert_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, upsert, |input, output| {
            prop_assert_eq!(output, &upsert_oracle(input));
            Ok(())
        })?;
    }

    #[test]
    fn count_distinct_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, count_distinct, |input, output| {
            let expected = set_of(groups(input).into_iter().map(|(k, vs)| {
                let distinct: BTreeSet<i64> = vs.iter().map(|(_, v)| v.rem_euclid(7)).collect();
                (k, distinct.len() as i64)
            }));
            prop_assert_eq!(output, &expected);
            Ok(())
        })?;
    }
}

/// The scenario spelled out: a late update loses, a tombstone deletes, retracting the
/// tombstone restores the previous state, a tie goes to the tombstone.
#[test]
fn upsert_late_updates_tombstones_and_retractions() -> Result<(), TestCaseError> {
    let epochs = vec![
        vec![((1u8, (20i64, 5i64)), 1)],
        vec![((1, (10, 7)), 1)],  // late: older than ts 20, state stays 5
        vec![((1, (30, 8)), 1)],  // tombstone (8 % 4 == 0) at ts 30: deleted
        vec![((1, (30, 8)), -1)], // tombstone retracted: 5 again
        vec![((1, (20, 4)), 1)],  // tombstone at the same ts as 5: the tombstone wins
    ];
    let expected: [&[(u8, i64)]; 5] = [&[(1, 5)], &[(1, 5)], &[], &[(1, 5)], &[]];
    let step = std::sync::atomic::AtomicUsize::new(0);
    check_every_epoch(epochs, upsert, move |input, output| {
        let i = step.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        prop_assert_eq!(output, &set_of(expected[i].iter().copied()));
        prop_assert_eq!(output, &upsert_oracle(input));
        Ok(())
    })
}
