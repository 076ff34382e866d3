//! Feeds, entity tables and enrichment over a stream of posts, on 1 and 2 workers:
//!
//! * `latest_100_per_user` — `latest_n_per_key(100)` over posts by 1,000 users;
//! * `global_latest_1000` — `top_n(1000)` over all posts;
//! * `upsert_posts` — the posts as edits of 10,000 documents (`upsert`);
//! * `enrich_posts_with_users` — each post ⋈ its author's profile (`enrich_with`);
//! * `distinct_posters_per_bucket` — distinct users per post-id bucket of 100
//!   (`count_distinct_per_key`);
//! * `join_post_counts_with_profiles` — posts per user (a projection) ⋈ the users' profiles
//!   (`join_projections`), both sides changing.
//!
//! Posts are fed straight into a dataflow (no source or sink) in epochs of 10,000, with
//! posting times out of order and every tenth post deleted an epoch later, so the numbers
//! are the operators' own events/s including retractions.
//!
//! `cargo bench --workspace --bench feeds` measures; `cargo test --workspace --bench feeds`
//! runs it once as a smoke test (`--workspace` keeps the fast suite's feature set).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use differential_dataflow::input::Input;
use tributary_engine::Collection;
use tributary_operators::{
    CountDistinctPerKey, CountPerKey, EnrichWith, JoinProjections, LatestNPerKey, Table, TopN, Upsert,
};

const USERS: u64 = 1_000;
const DOCUMENTS: u64 = 10_000;
const POSTS_PER_EPOCH: u64 = 10_000;

/// `(user, (posted_at, post_id))`
type Post = (u64, (i64, u64));

/// 300,000 by default: the hierarchical feeds run at a few hundred thousand events/s, and
/// at 1M events these six groups alone would take over ten of the suite's 20 minutes.
fn events() -> u64 {
    std::env::var("TRIBUTARY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000)
}

/// The operator under test, built on every worker.
type Build = for<'a> fn(Collection<'a, Post>) -> Collection<'a, u64>;

/// Feeds `events` posts (this worker's share of them) epoch by epoch through `build` and
/// waits for the result after each epoch.
fn run(workers: usize, events: u64, build: Build) {
    timely::execute(timely::Config::process(workers), move |worker| {
        let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, posts) = scope.new_collection::<Post, isize>();
            let (probe, _) = build(posts).probe();
            (input, probe)
        });
        let (index, peers) = (worker.index() as u64, worker.peers() as u64);
        let mut deleted: Vec<Post> = Vec::new();
        let mut id = index;
        let mut epoch = 0;
        while id < events {
            for post in deleted.drain(..) {
                input.remove(post);
            }
            let end = (epoch + 1) * POSTS_PER_EPOCH;
            while id < events.min(end) {
                let mix = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let post = (mix % USERS, (id as i64 * 10 + (mix >> 40) as i64 % 2_000, id));
                input.insert(post);
                if mix % 10 == 0 {
                    deleted.push(post);
                }
                id += peers;
            }
            epoch += 1;
            input.advance_to(epoch);
            input.flush();
            worker.step_while(|| probe.less_than(input.time()));
        }
    })
    .expect("timely starts")
    .join()
    .into_iter()
    .for_each(|worker| worker.expect("worker runs"));
}

fn latest_100_per_user(posts: Collection<'_, Post>) -> Collection<'_, u64> {
    posts.latest_n_per_key(100).map(|(user, _)| user)
}

fn global_latest_1000(posts: Collection<'_, Post>) -> Collection<'_, u64> {
    posts.map(|(_, item)| item).top_n(1_000).map(|(_, id)| id)
}

fn upsert_posts(posts: Collection<'_, Post>) -> Collection<'_, u64> {
    posts
        .map(|(user, (ts, id))| (id % DOCUMENTS, (ts, (user % 3 != 0).then_some(user))))
        .upsert()
        .map(|(document, _)| document)
}

fn enrich_posts_with_users(posts: Collection<'_, Post>) -> Collection<'_, u64> {
    let profiles = posts
        .clone()
        .map(|(user, _)| (user, user * 7))
        .distinct()
        .arrange_by_key();
    let profiles = Table::new(profiles);
    posts
        .enrich_with(&profiles, |(user, _)| *user)
        .map(|((_, (_, id)), profile)| id + profile.unwrap_or_default())
}

fn distinct_posters_per_bucket(posts: Collection<'_, Post>) -> Collection<'_, u64> {
    posts
        .map(|(user, (_, id))| (id % 100, user))
        .count_distinct_per_key()
        .map(|(bucket, _)| bucket)
}

fn join_post_counts_with_profiles(posts: Collection<'_, Post>) -> Collection<'_, u64> {
    let profiles = posts
        .clone()
        .map(|(user, _)| (user, user * 7))
        .distinct()
        .arrange_by_key();
    let profiles = Table::new(profiles);
    posts
        .map(|(user, _)| (user, ()))
        .count_per_key()
        .join_projections(profiles.values())
        .map(|(user, _)| user)
}

fn bench(c: &mut Criterion, name: &str, build: Build) {
    let events = events();
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    for workers in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, &w| {
            b.iter(|| run(w, events, build));
        });
    }
    group.finish();
}

fn feeds(c: &mut Criterion) {
    bench(c, "latest_100_per_user", latest_100_per_user);
    bench(c, "global_latest_1000", global_latest_1000);
}

fn tables(c: &mut Criterion) {
    bench(c, "upsert_posts", upsert_posts);
    bench(c, "enrich_posts_with_users", enrich_posts_with_users);
    bench(c, "distinct_posters_per_bucket", distinct_posters_per_bucket);
    bench(c, "join_post_counts_with_profiles", join_post_counts_with_profiles);
}

criterion_group!(benches, feeds, tables);
criterion_main!(benches);
