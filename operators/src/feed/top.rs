//! The hierarchical top-N reduction behind [`LatestNPerKey`](super::LatestNPerKey) and
//! [`TopN`](super::TopN).
//!
//! A plain `reduce` keeping the N greatest items of a key re-reads the key's whole history
//! on every change. Instead each item goes to a bucket by a 64-bit hash of the item: the
//! first stage keeps the top N of each `(key, top 16 hash bits)` bucket, and each further
//! stage merges the survivors of 16 buckets (`(key, top 12 bits)`, then 8, 4, and finally
//! the key alone). Every stage is an ordinary, retraction-aware `reduce`, so deleting an
//! item of the top N lets the next one move up from whichever bucket holds it.
//!
//! Cost per update: at most five `reduce` evaluations, each re-reading one group of at most
//! `16 · N` survivors (the first stage: the items of one bucket, about `n / 65,536` of a
//! key's `n` items). Propagation stops at the first stage whose top N does not change, so
//! an item that is not among its bucket's N greatest costs one evaluation. The fan-in is 16
//! rather than `extremum.rs`'s 256 because a stage re-reads `fan-in · N` items, not
//! `fan-in`: with N = 1,000 a 256-way merge would re-read 256,000 items per update.
//! State: every stage arranges its input, so the first stage holds all present items and
//! each later one at most N per bucket.
//!
//! Because the bucket (not the key) is the reduction key until the last stage, a global
//! top-N (one key, `()`) is exchanged across workers by bucket and only its last stage —
//! 16 lists of at most N — runs on one worker.

use std::hash::{Hash, Hasher};

use differential_dataflow::ExchangeData;
use tributary_engine::Collection;

/// Hash bits of the first stage's buckets.
const LEAF_BITS: u32 = 16;
/// Hash bits dropped per stage: each stage merges `2^STEP_BITS` buckets.
const STEP_BITS: u32 = 4;

/// The `n` greatest items per key (by `T`'s order), with multiplicities: an item present
/// twice occupies two places. Items with a non-positive multiplicity are absent.
pub(crate) fn top_n_per_key<'scope, K, T>(
    input: Collection<'scope, (K, T)>,
    name: &str,
    n: usize,
) -> Collection<'scope, (K, T)>
where
    K: ExchangeData + Hash,
    T: ExchangeData + Hash,
{
    let mut buckets = input.map(|(k, item)| {
        let bucket = item_hash(&item) >> (64 - LEAF_BITS);
        ((k, bucket), item)
    });
    let mut bits = LEAF_BITS;
    while bits > 0 {
        buckets = buckets
            .reduce_named(&format!("{name}/b{bits}"), move |_, group, out| greatest(group, n, out))
            .map(|((k, bucket), item)| ((k, bucket >> STEP_BITS), item));
        bits -= STEP_BITS;
    }
    buckets
        .map(|((k, _), item)| (k, item))
        .reduce_named(name, move |_, group, out| greatest(group, n, out))
}

/// Pushes the `n` greatest present items of a group (sorted ascending, as `reduce`
/// presents it) with their multiplicities, cut so that they add up to at most `n`.
fn greatest<T: Clone>(group: &[(&T, isize)], n: usize, out: &mut Vec<(T, isize)>) {
    let mut remaining = n;
    for (item, count) in group.iter().rev() {
        if remaining == 0 {
            break;
        }
        if *count > 0 {
            let taken = (*count as usize).min(remaining);
            out.push(((*item).clone(), taken as isize));
            remaining -= taken;
        }
    }
}

/// A hash of the item that is stable for a given build (the default SipHash keys are fixed),
/// so every worker puts an item in the same bucket.
fn item_hash<T: Hash>(item: &T) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    item.hash(&mut h);
    h.finish()
}
