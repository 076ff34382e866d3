//! A deterministic generator of notification delivery logs.
//!
//! Notification `n`'s whole lifecycle is a pure function of `(seed, n)`. The stream is a
//! sequence of slots, `1 + 2 × MAX_ATTEMPTS` per notification: slot 0 queues it, slot `2a + 1`
//! sends attempt `a + 1` and slot `2a + 2` reports its outcome. A slot holds an event when the
//! lifecycle has that step; worker `w` of `k` emits the slots `i ≡ w mod k`, so all workers
//! together emit exactly [`NotificationGenerator::events`].
//!
//! Lifecycles: 3% are never attempted yet (pending), 3% have an attempt in flight, the rest
//! need 1, 2 or 3 attempts; a last attempt bounces with probability 0.25, so about 6% fail.
//! Attempts go out 0.1 s, 4.1 s and 8.1 s after queuing (event time); providers answer in
//! 0.1–2 s; channels are email, push and sms.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tributary_engine::EngineError;
use tributary_engine::source::{Source, SourceCheckpoint, SourceOutput, SourceReader, SourceStatus, WorkerInfo};

use super::DEFAULT_MAX_ATTEMPTS as MAX_ATTEMPTS;
use super::event::{DeliveryStep, NotificationEvent};

const CHANNELS: [&str; 3] = ["email", "push", "sms"];
const SLOTS: u64 = 1 + 2 * MAX_ATTEMPTS as u64;

/// Notification generator settings. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationGeneratorConfig {
    /// Distinct recipients. Default: 500.
    pub users: u64,
    /// Notifications queued per second (wall clock); `0` means as fast as possible.
    /// Default: 100.
    pub rate: u64,
    /// Seed. Default: 42.
    pub seed: u64,
    /// Event time of notification 0, epoch ms. Default: 1,700,000,000,000.
    pub start_ts: i64,
    /// Event-time distance between consecutive notifications. Default: 10,000 ms.
    pub spacing_ms: i64,
    /// Stop after this many notifications; `None` runs forever. Default: `None`.
    pub notifications: Option<u64>,
}

impl Default for NotificationGeneratorConfig {
    fn default() -> Self {
        Self {
            users: 500,
            rate: 100,
            seed: 42,
            start_ts: 1_700_000_000_000,
            spacing_ms: 10_000,
            notifications: None,
        }
    }
}

/// A source of synthetic delivery events (see the module docs).
#[derive(Debug, Clone)]
pub struct NotificationGenerator {
    config: NotificationGeneratorConfig,
}

impl NotificationGenerator {
    /// Validates the configuration and builds the generator.
    pub fn try_new(config: NotificationGeneratorConfig) -> Result<Self, EngineError> {
        if config.users == 0 || config.spacing_ms < 1 {
            return Err(EngineError::Source {
                source_name: "notification generator".into(),
                reason: "users and spacing_ms must be at least 1".into(),
            });
        }
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &NotificationGeneratorConfig {
        &self.config
    }

    /// The event in slot `i`, if notification `i / SLOTS`'s lifecycle has that step.
    pub fn slot(&self, i: u64) -> Option<NotificationEvent> {
        let c = &self.config;
        let n = i / SLOTS;
        let slot = i % SLOTS;
        let h = mix(c.seed, n);
        let queued = c.start_ts.saturating_add(as_i64(n).saturating_mul(c.spacing_ms));
        let fate = unit(h);
        // Attempts made, and whether the last one has an outcome yet.
        let (attempts, answered) = if fate < 0.03 {
            (0, true)
        } else if fate < 0.06 {
            (1, false)
        } else {
            (1 + (h >> 24) % MAX_ATTEMPTS as u64, true)
        };
        let last_bounces = unit(h >> 32) < 0.25 && attempts == MAX_ATTEMPTS as u64;
        let (step, ts) = if slot == 0 {
            (DeliveryStep::Queued, queued)
        } else {
            let attempt = (slot - 1) / 2; // 0-based
            if attempt >= attempts {
                return None;
            }
            let sent = queued + 100 + (1_000 << attempt) * i64::from(attempt > 0) + as_i64(attempt) * 2_000;
            if slot % 2 == 1 {
                (DeliveryStep::Sent, sent)
            } else {
                let last = attempt + 1 == attempts;
                if last && !answered {
                    return None;
                }
                let answer = sent + 100 + as_i64(mix(h, slot) % 1_900);
                let step = if !last || last_bounces {
                    DeliveryStep::Bounced
                } else {
                    DeliveryStep::Delivered
                };
                (step, answer)
            }
        };
        Some(NotificationEvent {
            notification_id: as_i64(n),
            user_id: as_i64((h >> 8) % c.users),
            channel: CHANNELS[((h >> 40) % CHANNELS.len() as u64) as usize].to_string(),
            step,
            ts,
            detail: if step == DeliveryStep::Bounced {
                format!("provider refused attempt {}", slot / 2)
            } else {
                String::new()
            },
        })
    }

    /// Every event of the first `notifications` notifications, in slot order.
    pub fn events(&self, notifications: u64) -> impl Iterator<Item = NotificationEvent> + '_ {
        (0..notifications.saturating_mul(SLOTS)).filter_map(move |i| self.slot(i))
    }
}

impl Source<NotificationEvent> for NotificationGenerator {
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "notification generator(users={}, seed={}, notifications={})",
            c.users,
            c.seed,
            c.notifications.map_or("unbounded".to_string(), |l| l.to_string())
        )
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<NotificationEvent>>, EngineError> {
        Ok(Box::new(Reader {
            generator: self.clone(),
            next: worker.index as u64,
            step: worker.peers.max(1) as u64,
            started: Instant::now(),
        }))
    }
}

/// One worker's share: slots `i ≡ worker mod peers`, paced to the rate.
struct Reader {
    generator: NotificationGenerator,
    next: u64,
    step: u64,
    started: Instant,
}

impl SourceReader<NotificationEvent> for Reader {
    fn poll(&mut self, out: &mut SourceOutput<'_, NotificationEvent>, budget: usize) -> SourceStatus {
        let c = self.generator.config();
        let paced = if c.rate == 0 {
            u64::MAX
        } else {
            (self.started.elapsed().as_secs_f64() * c.rate as f64 * SLOTS as f64) as u64
        };
        let end = c.notifications.map(|n| n.saturating_mul(SLOTS));
        let allowed = end.map_or(paced, |e| paced.min(e));
        let mut visited = 0;
        while self.next < allowed && visited < budget {
            if let Some(event) = self.generator.slot(self.next) {
                out.give(event);
            }
            self.next += self.step;
            visited += 1;
        }
        match end {
            Some(end) if self.next >= end => SourceStatus::Finished,
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

/// SplitMix64 of `seed` mixed with `x`.
fn mix(seed: u64, x: u64) -> u64 {
    let mut z = (seed ^ x.wrapping_mul(0xD6E8_FEB8_6659_FD93)).wrapping_add(0x9E37_79B9_7F4A_7C15);
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
    use crate::pipelines::notifications::{DeliveryState, fold};

    #[test]
    fn lifecycles_fold_to_every_state_in_plausible_shares() {
        let g = NotificationGenerator::try_new(NotificationGeneratorConfig::default()).expect("valid");
        let events: Vec<NotificationEvent> = g.events(4_000).collect();
        assert_eq!(events, g.events(4_000).collect::<Vec<_>>());
        let mut by_id: BTreeMap<i64, Vec<NotificationEvent>> = BTreeMap::new();
        for e in events {
            by_id.entry(e.notification_id).or_default().push(e);
        }
        let mut states: BTreeMap<DeliveryState, usize> = BTreeMap::new();
        for evs in by_id.values_mut() {
            evs.sort_by_key(|e| (e.ts, e.step));
            assert!(evs.windows(2).all(|w| w[0].ts < w[1].ts), "{evs:?}");
            let s = fold(evs.iter(), MAX_ATTEMPTS).expect("state");
            *states.entry(s.state).or_default() += 1;
        }
        assert_eq!(by_id.len(), 4_000);
        let share = |s: DeliveryState| states.get(&s).copied().unwrap_or(0) as f64 / 4_000.0;
        assert!((0.02..0.05).contains(&share(DeliveryState::Pending)), "{states:?}");
        assert!((0.02..0.05).contains(&share(DeliveryState::Sent)), "{states:?}");
        assert!((0.05..0.11).contains(&share(DeliveryState::Failed)), "{states:?}");
    }
}
