//! [`Table`]: one shared index of a keyed collection, for any number of joins.
//!
//! Besides the values by key, a left outer join needs to know which keys are present (an
//! order whose product is absent is emitted with `None`). Counting matches per join would
//! go wrong as soon as a key has several values, and computing presence per join would
//! rebuild it per use; so the table keeps both indexes, built once: the values arrangement
//! and a distinct-keys arrangement derived from it (one `reduce` evaluation per changed key,
//! reading only that key's values).

use std::fmt;
use std::hash::Hash;

use differential_dataflow::ExchangeData;
use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::implementations::{KeyBuilder, KeySpine, ValSpine};
use tributary_engine::Epoch;

/// What `arrange_by_key()` returns for a Tributary collection: values indexed by key.
pub type TableArrangement<'scope, K, V> = Arranged<'scope, TraceAgent<ValSpine<K, V, Epoch, isize>>>;

/// The present keys of a table, indexed.
pub type KeyArrangement<'scope, K> = Arranged<'scope, TraceAgent<KeySpine<K, Epoch, isize>>>;

/// A keyed collection arranged once and shared by every join against it.
///
/// Cloning a `Table` clones handles to the same indexes, not the data.
#[derive(Clone)]
pub struct Table<'scope, K, V>
where
    K: ExchangeData + Hash,
    V: ExchangeData,
{
    values: TableArrangement<'scope, K, V>,
    keys: KeyArrangement<'scope, K>,
}

impl<'scope, K, V> Table<'scope, K, V>
where
    K: ExchangeData + Hash,
    V: ExchangeData,
{
    /// Wraps an arrangement (`collection.arrange_by_key()`) and derives its key index.
    ///
    /// A table is meant to hold one value per key (e.g. the output of
    /// [`upsert`](crate::Upsert::upsert)); if a key has several, joins pair a row with each.
    pub fn new(values: TableArrangement<'scope, K, V>) -> Self {
        let keys = values
            .clone()
            .reduce_abelian::<_, KeyBuilder<K, Epoch, isize>, KeySpine<K, Epoch, isize>, _, _>(
                "TableKeys",
                |_key, group, out| {
                    if group.iter().any(|(_, n)| *n > 0) {
                        out.push(((), 1));
                    }
                },
                |buffer, key, updates| {
                    buffer.clear();
                    buffer.extend(updates.drain(..).map(|(v, t, r)| ((key.clone(), v), t, r)));
                },
            );
        Self { values, keys }
    }

    /// The values by key: pass it to [`join_projections`](crate::JoinProjections) or to
    /// differential's own `join_core`.
    pub fn values(&self) -> &TableArrangement<'scope, K, V> {
        &self.values
    }

    /// The keys with at least one present value.
    pub fn keys(&self) -> &KeyArrangement<'scope, K> {
        &self.keys
    }
}

impl<K, V> fmt::Debug for Table<'_, K, V>
where
    K: ExchangeData + Hash,
    V: ExchangeData,
{
    /// The indexes are shared handles to dataflow state with nothing useful to print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table").finish_non_exhaustive()
    }
}
