//! Hierarchical reduction to a key's smallest or largest value.
//!
//! A plain `reduce` re-reads a key's whole group on every change — O(history) per update.
//! Instead each value is placed in a bucket by a 64-bit hash; the first stage keeps one
//! extremum per `(key, top 16 hash bits)`, the second per `(key, top 8 bits)`, the last per
//! key. Every group a stage re-reads holds at most 256 candidates (first stage: about
//! n / 65,536 values), and retracting the current extremum promotes the next one correctly
//! because every stage is an ordinary, retraction-aware `reduce`.

use std::hash::{Hash, Hasher};

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

/// Which end of the order to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extreme {
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

/// One `(key, extremum)` per key with at least one value.
pub(crate) fn extremum_per_key<'scope, K, V>(
    input: Collection<'scope, (K, V)>,
    which: Extreme,
    name: &str,
) -> Collection<'scope, (K, V)>
where
    K: ExchangeData + Hash,
    V: ExchangeData + Hash,
{
    input
        .map(|(k, v)| {
            let bucket = value_hash(&v) >> 48;
            ((k, bucket), v)
        })
        .reduce_named(&format!("{name}/b16"), picker(which))
        .map(|((k, bucket), v)| ((k, bucket >> 8), v))
        .reduce_named(&format!("{name}/b8"), picker(which))
        .map(|((k, _), v)| (k, v))
        .reduce_named(name, picker(which))
}

/// The values of one group as `reduce` presents them: sorted, with multiplicities.
type Group<'a, 'b, V> = &'a [(&'b V, isize)];

/// The reduce logic of every stage: keep the group's smallest or largest present value.
fn picker<G, V: Clone + 'static>(which: Extreme) -> impl FnMut(&G, Group<'_, '_, V>, &mut Vec<(V, isize)>) + 'static {
    move |_group, values, out| {
        // Values arrive sorted; ignore anything not present (non-positive counts).
        let mut present = values.iter().filter(|(_, n)| *n > 0).map(|(v, _)| *v);
        let chosen = match which {
            Extreme::Min => present.next(),
            Extreme::Max => present.next_back(),
        };
        if let Some(v) = chosen {
            out.push((v.clone(), 1));
        }
    }
}

/// A hash of the value that is stable for a given build (the default SipHash keys are fixed).
fn value_hash<V: Hash>(v: &V) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    v.hash(&mut h);
    h.finish()
}
