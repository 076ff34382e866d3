//! A deterministic generator of post events: publishes, edits and deletes.
//!
//! Event `i` is a pure function of `(seed, i)` (SplitMix64 over the index, as the sensor
//! generator), so worker `w` of `n` emits the indices `i ≡ w mod n` and all workers together
//! emit exactly [`PostGenerator::events`]; tests recompute the feeds from that sequence.
//!
//! * Event time advances by a whole number of milliseconds per event (at least 1), so no two
//!   events share an event time.
//! * Event `i` publishes post `i` unless its draw makes it an edit or a delete. An edit or
//!   delete targets a post published among the previous [`PostGeneratorConfig::lookback`]
//!   events; when the drawn target is not a publish, event `i` publishes instead. Edits and
//!   deletes therefore hit recent posts, the ones in the feeds, and a post may be edited
//!   after it was deleted (the pipeline must not bring it back).
//! * Authors are skewed: user `u` of `users` is drawn with density ∝ `1 / √(u + 1)`-ish
//!   (the square of a uniform), so a few users overflow their feed and most do not.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tributary_engine::EngineError;
use tributary_engine::source::{Source, SourceCheckpoint, SourceOutput, SourceReader, SourceStatus, WorkerInfo};

use super::event::{PostEvent, PostOp};

/// Post generator settings. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostGeneratorConfig {
    /// Number of distinct authors. Default: 1,000.
    pub users: u64,
    /// Events per second over all workers; `0` means as fast as possible. Default: 1,000.
    pub rate: u64,
    /// Seed; the same seed gives the same events. Default: 42.
    pub seed: u64,
    /// Probability that an event edits a recent post. Default: 0.2.
    pub update_probability: f64,
    /// Probability that an event deletes a recent post. Default: 0.1.
    pub delete_probability: f64,
    /// How many events back an edit or delete may reach. Default: 2,000.
    pub lookback: u64,
    /// Event time of event 0, epoch milliseconds. Default: 1,700,000,000,000 (Nov 2023).
    pub start_ts: i64,
    /// Stop after this many events (a bounded source); `None` runs forever. Default: `None`.
    pub limit: Option<u64>,
}

impl Default for PostGeneratorConfig {
    fn default() -> Self {
        Self {
            users: 1_000,
            rate: 1_000,
            seed: 42,
            update_probability: 0.2,
            delete_probability: 0.1,
            lookback: 2_000,
            start_ts: 1_700_000_000_000,
            limit: None,
        }
    }
}

impl PostGeneratorConfig {
    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |reason: &str| {
            Err(EngineError::Source {
                source_name: "post generator".into(),
                reason: reason.into(),
            })
        };
        let p = |x: f64| (0.0..=1.0).contains(&x);
        if self.users == 0 {
            return bad("users must be at least 1");
        }
        if !p(self.update_probability) || !p(self.delete_probability) {
            return bad("update_probability and delete_probability must be between 0 and 1");
        }
        if self.update_probability + self.delete_probability > 1.0 {
            return bad("update_probability + delete_probability must not exceed 1");
        }
        if self.lookback == 0 {
            return bad("lookback must be at least 1");
        }
        Ok(())
    }

    /// Event-time distance between consecutive events: the rate's spacing in whole
    /// milliseconds, at least 1 (so event times are distinct).
    pub fn spacing_ms(&self) -> i64 {
        if self.rate == 0 || self.rate >= 1_000 {
            1
        } else {
            i64::try_from(1_000 / self.rate).unwrap_or(1)
        }
    }
}

/// A source of synthetic post events (see the module docs).
#[derive(Debug, Clone)]
pub struct PostGenerator {
    config: PostGeneratorConfig,
}

impl PostGenerator {
    /// Validates the configuration and builds the generator.
    pub fn try_new(config: PostGeneratorConfig) -> Result<Self, EngineError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &PostGeneratorConfig {
        &self.config
    }

    /// Event number `i`.
    pub fn event(&self, i: u64) -> PostEvent {
        let c = &self.config;
        let draw = splitmix64(c.seed ^ splitmix64(i));
        let op = match self.raw_op(i) {
            PostOp::Created => PostOp::Created,
            op if i > 0 && self.raw_op(self.target(i, draw)) == PostOp::Created => op,
            _ => PostOp::Created,
        };
        let post = if op == PostOp::Created { i } else { self.target(i, draw) };
        let text = match op {
            PostOp::Created => format!("post {post}"),
            PostOp::Updated => format!("post {post}, edited by event {i}"),
            PostOp::Deleted => format!("post {post}, deleted by event {i}"),
        };
        PostEvent {
            op,
            post_id: as_i64(post),
            user_id: as_i64(self.author(post)),
            ts: self.ts(i),
            created_at: self.ts(post),
            text,
        }
    }

    /// The first `n` events in index order: what all workers together produce.
    pub fn events(&self, n: u64) -> impl Iterator<Item = PostEvent> + '_ {
        (0..n).map(move |i| self.event(i))
    }

    /// Event time of event `i`.
    fn ts(&self, i: u64) -> i64 {
        self.config
            .start_ts
            .saturating_add(as_i64(i).saturating_mul(self.config.spacing_ms()))
    }

    /// The op event `i` draws before checking its target.
    fn raw_op(&self, i: u64) -> PostOp {
        let c = &self.config;
        let u = unit(splitmix64(c.seed ^ splitmix64(i)) >> 11);
        if u < c.delete_probability {
            PostOp::Deleted
        } else if u < c.delete_probability + c.update_probability {
            PostOp::Updated
        } else {
            PostOp::Created
        }
    }

    /// The earlier event an edit or delete at `i > 0` targets.
    fn target(&self, i: u64, draw: u64) -> u64 {
        let reach = self.config.lookback.min(i).max(1);
        i.saturating_sub(1 + (draw >> 40) % reach)
    }

    /// The author of post `post`: the square of a uniform, so low ids post most.
    fn author(&self, post: u64) -> u64 {
        let u = unit(splitmix64(self.config.seed.rotate_left(17) ^ splitmix64(post)));
        ((u * u * self.config.users as f64) as u64).min(self.config.users - 1)
    }
}

impl Source<PostEvent> for PostGenerator {
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "post generator(users={}, rate={}, seed={}, limit={})",
            c.users,
            if c.rate == 0 {
                "max".to_string()
            } else {
                format!("{}/s", c.rate)
            },
            c.seed,
            c.limit.map_or("none".to_string(), |l| l.to_string())
        )
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<PostEvent>>, EngineError> {
        Ok(Box::new(PostReader {
            generator: self.clone(),
            next: worker.index as u64,
            step: worker.peers.max(1) as u64,
            started: Instant::now(),
        }))
    }
}

/// One worker's share: indices `i ≡ worker mod peers`, paced to the rate.
struct PostReader {
    generator: PostGenerator,
    next: u64,
    step: u64,
    started: Instant,
}

impl SourceReader<PostEvent> for PostReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, PostEvent>, budget: usize) -> SourceStatus {
        let c = self.generator.config();
        let paced = if c.rate == 0 {
            u64::MAX
        } else {
            (self.started.elapsed().as_secs_f64() * c.rate as f64) as u64
        };
        let allowed = c.limit.map_or(paced, |l| paced.min(l));
        let mut emitted = 0;
        while self.next < allowed && emitted < budget {
            out.give(self.generator.event(self.next));
            self.next += self.step;
            emitted += 1;
        }
        match c.limit {
            Some(limit) if self.next >= limit => SourceStatus::Finished,
            _ if self.next < allowed => SourceStatus::Ready,
            _ => SourceStatus::Idle,
        }
    }

    fn checkpoint(&self) -> Option<SourceCheckpoint> {
        Some(SourceCheckpoint::Sequence { next: self.next })
    }
}

fn as_i64(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// SplitMix64's finaliser: a bijective 64-bit mix with good avalanche.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Low 21 bits as a uniform in [0, 1).
fn unit(bits: u64) -> f64 {
    (bits & ((1 << 21) - 1)) as f64 / (1u64 << 21) as f64
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn generator() -> PostGenerator {
        PostGenerator::try_new(PostGeneratorConfig {
            users: 50,
            ..PostGeneratorConfig::default()
        })
        .expect("valid")
    }

    #[test]
    fn events_are_deterministic_and_edits_target_earlier_publishes() {
        let g = generator();
        let events: Vec<PostEvent> = g.events(20_000).collect();
        assert_eq!(events, g.events(20_000).collect::<Vec<_>>());
        let mut published: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        let mut ops: BTreeMap<PostOp, usize> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            *ops.entry(e.op).or_default() += 1;
            if e.op == PostOp::Created {
                assert_eq!(e.post_id, i as i64);
                assert_eq!(e.created_at, e.ts);
                published.insert(e.post_id, (e.user_id, e.created_at));
            } else {
                assert!(e.post_id < i as i64 && i as i64 - e.post_id <= 2_000);
                assert_eq!(published.get(&e.post_id), Some(&(e.user_id, e.created_at)), "{e:?}");
            }
        }
        let (created, updated, deleted) = (ops[&PostOp::Created], ops[&PostOp::Updated], ops[&PostOp::Deleted]);
        // Edits and deletes that draw a non-publish as their target publish instead.
        assert!((14_000..17_000).contains(&created), "{ops:?}");
        assert!(updated > 2_000 && deleted > 1_000, "{ops:?}");
        assert!(events.windows(2).all(|w| w[1].ts > w[0].ts));
        let heaviest = published.values().filter(|(u, _)| *u == 0).count();
        assert!(heaviest > 100, "user 0 posts more than a feed holds: {heaviest}");
    }

    #[test]
    fn bad_settings_are_refused() {
        for bad in [
            PostGeneratorConfig {
                users: 0,
                ..PostGeneratorConfig::default()
            },
            PostGeneratorConfig {
                update_probability: 0.7,
                delete_probability: 0.4,
                ..PostGeneratorConfig::default()
            },
            PostGeneratorConfig {
                lookback: 0,
                ..PostGeneratorConfig::default()
            },
        ] {
            assert!(PostGenerator::try_new(bad).is_err());
        }
    }
}
