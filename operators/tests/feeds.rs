//! latest_n_per_key and top_n against the oracle, and the feed test: 10,000 posts
//! by 100 users with 10% deletes, global latest 1,000 and per-user latest 100 at every epoch.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{LatestNPerKey, TopN};

use crate::oracle::workers::check_every_epoch_on;
use crate::oracle::{Event, Multiset, check_every_epoch, groups, keyed_events};

/// The `n` greatest items, with multiplicities (an item present twice takes two places).
fn greatest<T: Ord + Clone>(mut items: Vec<T>, n: usize) -> Multiset<T> {
    items.sort_unstable_by(|a, b| b.cmp(a));
    let mut out = Multiset::new();
    for item in items.into_iter().take(n) {
        *out.entry(item).or_insert(0) += 1;
    }
    out
}

fn latest_3(c: Collection<'_, Event>) -> Collection<'_, Event> {
    c.latest_n_per_key(3)
}

fn top_5(c: Collection<'_, Event>) -> Collection<'_, (i64, (i64, u8))> {
    c.map(|(k, (ts, v))| (ts, (v, k))).top_n(5)
}

fn top_0(c: Collection<'_, Event>) -> Collection<'_, (i64, i64)> {
    c.map(|(_, item)| item).top_n(0)
}

fn latest_3_oracle(input: &Multiset<Event>) -> Multiset<Event> {
    let mut expected = Multiset::new();
    for (k, items) in groups(input) {
        for (item, n) in greatest(items, 3) {
            expected.insert((k, item), n);
        }
    }
    expected
}

fn top_5_oracle(input: &Multiset<Event>) -> Multiset<(i64, (i64, u8))> {
    let items = groups(input)
        .into_iter()
        .flat_map(|(k, items)| items.into_iter().map(move |(ts, v)| (ts, (v, k))))
        .collect();
    greatest(items, 5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn latest_n_per_key_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, latest_3, |input, output| {
            prop_assert_eq!(output, &latest_3_oracle(input));
            Ok(())
        })?;
    }

    #[test]
    fn top_n_matches_oracle(epochs in keyed_events()) {
        check_every_epoch(epochs, top_5, |input, output| {
            prop_assert_eq!(output, &top_5_oracle(input));
            Ok(())
        })?;
    }

    #[test]
    fn top_zero_is_empty(epochs in keyed_events()) {
        check_every_epoch(epochs, top_0, |_, output| {
            prop_assert!(output.is_empty());
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn top_n_on_two_workers_matches_oracle(epochs in keyed_events()) {
        check_every_epoch_on(2, epochs, top_5, |input, output| {
            prop_assert_eq!(output, &top_5_oracle(input));
            Ok(())
        })?;
    }

    #[test]
    fn latest_n_per_key_on_two_workers_matches_oracle(epochs in keyed_events()) {
        check_every_epoch_on(2, epochs, latest_3, |input, output| {
            prop_assert_eq!(output, &latest_3_oracle(input));
            Ok(())
        })?;
    }
}

/// A post: `(user, (posted_at, post_id))`.
type Post = (u32, (i64, u64));

/// A global feed row is `(None, item)`, a user's feed row `(Some(user), item)`.
type FeedRow = (Option<u32>, (i64, u64));

const POSTS: u64 = 10_000;
const USERS: u64 = 100;
const POSTS_PER_EPOCH: u64 = 200;

/// 10,000 posts by 100 users, 200 per epoch. Posting times grow by 10 ms per post with up
/// to 2 s of jitter, so posts arrive out of time order; users are skewed (user 0 posts
/// about 200 times, user 99 rarely) so some feeds overflow and some do not; every tenth
/// post (at random) is deleted one to five epochs after it was posted.
fn posts() -> Vec<Vec<(Post, isize)>> {
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let epochs = (POSTS / POSTS_PER_EPOCH) as usize;
    let mut out: Vec<Vec<(Post, isize)>> = vec![Vec::new(); epochs + 6];
    let mut deletes = 0;
    for id in 0..POSTS {
        let user = (next() % USERS).min(next() % USERS) as u32;
        let posted_at = id as i64 * 10 + (next() % 2_000) as i64;
        let post = (user, (posted_at, id));
        let epoch = (id / POSTS_PER_EPOCH) as usize;
        out[epoch].push((post, 1));
        if next() % 10 == 0 {
            deletes += 1;
            out[epoch + 1 + (next() % 5) as usize].push((post, -1));
        }
    }
    assert!((800..1_200).contains(&deletes), "about 10% deletes, got {deletes}");
    out
}

fn feeds(posts: Collection<'_, Post>) -> Collection<'_, FeedRow> {
    let global = posts
        .clone()
        .map(|(_, item)| item)
        .top_n(1_000)
        .map(|item| (None, item));
    let per_user = posts.latest_n_per_key(100).map(|(user, item)| (Some(user), item));
    global.concat(per_user)
}

fn feeds_oracle(input: &Multiset<Post>, output: &Multiset<FeedRow>) -> Result<(), TestCaseError> {
    let mut by_user: BTreeMap<u32, Vec<(i64, u64)>> = BTreeMap::new();
    for ((user, item), n) in input {
        prop_assert_eq!(*n, 1, "a post is present once");
        by_user.entry(*user).or_default().push(*item);
    }
    let all: Vec<(i64, u64)> = by_user.values().flatten().copied().collect();
    let mut expected: Multiset<FeedRow> = Multiset::new();
    expected.extend(greatest(all, 1_000).into_iter().map(|(item, n)| ((None, item), n)));
    for (user, items) in by_user {
        expected.extend(
            greatest(items, 100)
                .into_iter()
                .map(|(item, n)| ((Some(user), item), n)),
        );
    }
    prop_assert_eq!(output.len(), expected.len());
    prop_assert_eq!(output, &expected);
    Ok(())
}

#[test]
fn feed_of_10k_posts_matches_oracle_at_every_epoch() -> Result<(), TestCaseError> {
    check_every_epoch(posts(), feeds, feeds_oracle)
}

#[test]
fn feed_of_10k_posts_on_two_workers_matches_oracle_at_every_epoch() -> Result<(), TestCaseError> {
    check_every_epoch_on(2, posts(), feeds, feeds_oracle)
}
