//! The activity-feed pipeline: post events → the current posts, a global feed and a feed
//! per user — the read model a social app would otherwise keep in Redis.
//!
//! Input stream `post_events(op, post_id, user_id, ts, created_at, text)` ([`PostEvent`]), from
//! Kafka, HTTP ingest or the built-in [`PostGenerator`]. Projections, all of [`Post`] rows
//! `(post_id, user_id, created_at, updated_at, text)`:
//!
//! * `posts`: every live post's current image, keyed by `post_id`. The image with the
//!   greatest event time `ts` wins (an edit arriving late does not overwrite a newer one);
//!   a delete is final — it wins over every image, earlier or later, so a post edited after
//!   (or, out of order, "before") its deletion stays deleted;
//! * `feed_global`: the [`ActivityFeedConfig::global_feed_len`] newest live posts
//!   (greatest `created_at`, ties to the greater `post_id`), keyed by `post_id`;
//! * `feed_user`: per author, the [`ActivityFeedConfig::user_feed_len`] newest live posts,
//!   keyed by `user_id`, so `WHERE user_id = $1` is a key lookup, not a scan.
//!
//! The feeds carry no rank column: a rank would change for every post below an insertion.
//! Readers `ORDER BY created_at DESC, post_id DESC`. Deleting a post retracts it from every
//! projection and the next post moves up into the feeds it left; an edit replaces the
//! post's row in place.

mod event;
mod generator;

pub use event::{Post, PostEvent, PostOp};
pub use generator::{PostGenerator, PostGeneratorConfig};

use serde::{Deserialize, Serialize};
use tributary_engine::source::{Source, StreamSpec};
use tributary_engine::{EngineError, EventTime, Pipeline, ProjectionSpec};
use tributary_operators::{LatestNPerKey, TopN, Upsert};

/// Name of the input stream.
pub const POSTS_STREAM: &str = "post_events";
/// Name of the projection of live posts.
pub const POSTS: &str = "posts";
/// Name of the global feed projection.
pub const FEED_GLOBAL: &str = "feed_global";
/// Name of the per-user feed projection.
pub const FEED_USER: &str = "feed_user";

/// Feed sizes. Every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityFeedConfig {
    /// Posts in `feed_global`. Default: 1,000.
    pub global_feed_len: usize,
    /// Posts per user in `feed_user`. Default: 100.
    pub user_feed_len: usize,
}

impl Default for ActivityFeedConfig {
    fn default() -> Self {
        Self {
            global_feed_len: 1_000,
            user_feed_len: 100,
        }
    }
}

/// Builds the activity-feed pipeline over `source` with `config`'s feed sizes.
pub fn build<S>(p: &mut Pipeline<'_>, source: &S, config: ActivityFeedConfig) -> Result<(), EngineError>
where
    S: Source<PostEvent> + ?Sized,
{
    let events = p.source_with(
        StreamSpec::new(POSTS_STREAM).with_event_time(|e: &PostEvent| e.ts),
        source,
    )?;
    let posts = events
        .map(|e| {
            // A delete's change time is "forever", so it beats every image of the post.
            let at = if e.op == PostOp::Deleted { EventTime::MAX } else { e.ts };
            (e.post_id, (at, e.image()))
        })
        .upsert()
        .map(|(_, post)| post);
    let global = posts
        .clone()
        .map(|post| (post.created_at, post))
        .top_n(config.global_feed_len)
        .map(|(_, post)| post);
    let per_user = posts
        .clone()
        .map(|post| (post.user_id, (post.created_at, post)))
        .latest_n_per_key(config.user_feed_len)
        .map(|(_, (_, post))| post);
    let spec = |name: &str, key: &str| {
        ProjectionSpec::new(name)
            .with_timestamp_ms(["created_at", "updated_at"])
            .with_key_columns([key])
    };
    p.projection(spec(POSTS, "post_id"), posts, |post| post.post_id)?;
    p.projection(spec(FEED_GLOBAL, "post_id"), global, |post| post.post_id)?;
    p.projection(spec(FEED_USER, "user_id"), per_user, |post| post.user_id)
}
