//! `upsert`: the current state per primary key from change events with tombstones.
//!
//! The winning change of a key is the one with the greatest event time, which is exactly
//! `last_per_key` over `(ts, change)`; so `upsert` reuses the hierarchical reduction of
//! `extremum.rs` and drops the key when the winner is a tombstone. Nothing here depends on
//! arrival order: a late change with an older event time loses to the newer state, and
//! retracting the current winner (input difference −1, e.g. a change rolled back or
//! replayed differently) restores the previous change.
//!
//! Cost per update: as `last_per_key` — three `reduce` evaluations over at most 256
//! candidates each.
//!
//! State: *every* version of every key stays in the first stage's arrangement, because a
//! retraction of the winner must be able to restore the previous version. Keeping only the
//! latest version would need compaction: once the watermark passes a version that has a
//! newer version at or before the watermark, that version can never win again (later
//! changes older than the watermark are dead-lettered, not applied), so the source could
//! retract it; that needs the watermark, which this operator does not see.

use std::hash::Hash;

use differential_dataflow::ExchangeData;
use serde::{Deserialize, Serialize};
use tributary_engine::{Collection, EventTime};

use crate::extremum::{hierarchical, largest};

/// One change event. Variant order matters: `Delete` sorts after every `Put`, so at equal
/// event times a tombstone wins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Change<V> {
    Put(V),
    Delete,
}

/// Current state per key from a change stream.
pub trait Upsert<'scope, K, V> {
    /// One `(key, value)` per key whose winning change is not a tombstone. A change is
    /// `(key, (ts, Some(value)))` (insert or update) or `(key, (ts, None))` (delete). The
    /// winner is the change with the greatest event time `ts`; at equal `ts` a tombstone
    /// wins over any value, and among values the greatest wins — so the table depends only
    /// on the set of changes, never on their arrival order.
    ///
    /// ```
    /// use differential_dataflow::input::Input;
    /// use tributary_operators::Upsert;
    ///
    /// timely::example(|scope| {
    ///     let changes = vec![
    ///         (1u32, (10i64, Some("draft"))),
    ///         (1, (30, Some("published"))),
    ///         (1, (20, Some("edited"))), // late: older than the current state, ignored
    ///         (2, (10, Some("spam"))),
    ///         (2, (40, None)),           // tombstone: key 2 is deleted
    ///     ];
    ///     let changes: Vec<_> = changes.into_iter().map(|(k, (ts, v))| (k, (ts, v.map(String::from)))).collect();
    ///     scope.new_collection_from(changes).1
    ///         .upsert()
    ///         .inspect(|(row, _, _)| assert_eq!(row, &(1, "published".to_string())));
    /// });
    /// ```
    fn upsert(self) -> Collection<'scope, (K, V)>;
}

impl<'scope, K, V> Upsert<'scope, K, V> for Collection<'scope, (K, (EventTime, Option<V>))>
where
    K: ExchangeData + Hash,
    V: ExchangeData + Hash,
{
    fn upsert(self) -> Collection<'scope, (K, V)> {
        let changes = self.map(|(k, (ts, value))| (k, (ts, value.map_or(Change::Delete, Change::Put))));
        hierarchical(changes, "Upsert", largest, largest).flat_map(|(k, (_, change))| match change {
            Change::Put(v) => Some((k, v)),
            Change::Delete => None,
        })
    }
}
