//! A deterministic generator of order lifecycles.
//!
//! Order `o`'s whole lifecycle is a pure function of `(seed, o)` (SplitMix64, as the other
//! generators). The stream is a sequence of *slots*, five per order (created, confirmed,
//! shipped, delivered, cancelled); slot `i` holds order `i / 5`'s event of stage `i % 5`
//! when its lifecycle has that stage, and nothing otherwise. Worker `w` of `n` emits the
//! slots `i ≡ w mod n`, so all workers together emit exactly [`OrderGenerator::events`].
//!
//! * Orders are placed [`OrderGeneratorConfig::spacing_ms`] apart in event time, minus a
//!   jitter of up to [`OrderGeneratorConfig::max_disorder_ms`]: an order placed just before
//!   an hour boundary often arrives after orders of the next hour — late data for the
//!   hourly windows.
//! * Later stages follow minutes (confirmed), hours (shipped) and days (delivered) later in
//!   event time but are emitted right after the order is placed, so the stream is far from
//!   event-time order, as a replicated order database's change log is.
//! * Lifecycles: 60% delivered, 15% stop at shipped, 10% at confirmed; 8% are cancelled
//!   after being placed and 7% after being confirmed.
//! * Products are skewed (the square of a uniform picks low ids more often); each belongs to
//!   category `product % categories`, with a fixed unit price.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tributary_engine::EngineError;
use tributary_engine::source::{Source, SourceCheckpoint, SourceOutput, SourceReader, SourceStatus, WorkerInfo};

use super::event::{OrderEvent, OrderStatus};

/// Category names, `product % len` picks one.
const CATEGORIES: [&str; 6] = ["books", "electronics", "garden", "grocery", "sports", "toys"];

/// Slots (possible events) per order.
const SLOTS: u64 = 5;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// Order generator settings. Every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderGeneratorConfig {
    /// Distinct products. Default: 50.
    pub products: u64,
    /// Distinct customers. Default: 10,000.
    pub customers: u64,
    /// Orders placed per second (wall clock) over all workers; `0` means as fast as
    /// possible. Default: 100.
    pub rate: u64,
    /// Seed; the same seed gives the same orders. Default: 42.
    pub seed: u64,
    /// Event time of order 0's placement, epoch milliseconds. Default: 1,700,000,000,000.
    pub start_ts: i64,
    /// Event-time distance between consecutive orders. Default: 1,000 ms.
    pub spacing_ms: i64,
    /// An order's placement time is up to this much earlier than its slot's. Default: 10 min.
    pub max_disorder_ms: i64,
    /// Stop after this many orders (a bounded source); `None` runs forever. Default: `None`.
    pub orders: Option<u64>,
}

impl Default for OrderGeneratorConfig {
    fn default() -> Self {
        Self {
            products: 50,
            customers: 10_000,
            rate: 100,
            seed: 42,
            start_ts: 1_700_000_000_000,
            spacing_ms: 1_000,
            max_disorder_ms: 10 * MINUTE,
            orders: None,
        }
    }
}

impl OrderGeneratorConfig {
    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |reason: &str| {
            Err(EngineError::Source {
                source_name: "order generator".into(),
                reason: reason.into(),
            })
        };
        if self.products == 0 || self.customers == 0 {
            return bad("products and customers must be at least 1");
        }
        if self.spacing_ms < 1 {
            return bad("spacing_ms must be at least 1");
        }
        if self.max_disorder_ms < 0 {
            return bad("max_disorder_ms must not be negative");
        }
        Ok(())
    }
}

/// A source of synthetic order events (see the module docs).
#[derive(Debug, Clone)]
pub struct OrderGenerator {
    config: OrderGeneratorConfig,
}

impl OrderGenerator {
    /// Validates the configuration and builds the generator.
    pub fn try_new(config: OrderGeneratorConfig) -> Result<Self, EngineError> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The configuration.
    pub fn config(&self) -> &OrderGeneratorConfig {
        &self.config
    }

    /// The event in slot `i`, if order `i / 5`'s lifecycle has stage `i % 5`.
    pub fn slot(&self, i: u64) -> Option<OrderEvent> {
        let order = i / SLOTS;
        let stage = OrderStatus::ALL[(i % SLOTS) as usize];
        let times = self.lifecycle(order);
        let ts = match stage {
            OrderStatus::Created => Some(times.created),
            OrderStatus::Confirmed => times.confirmed,
            OrderStatus::Shipped => times.shipped,
            OrderStatus::Delivered => times.delivered,
            OrderStatus::Cancelled => times.cancelled,
        }?;
        let c = &self.config;
        let draw = mix(c.seed ^ 0x5EED, order);
        let u = unit(draw);
        let product = ((u * u * c.products as f64) as u64).min(c.products - 1);
        Some(OrderEvent {
            order_id: as_i64(order),
            status: stage,
            ts,
            created_at: times.created,
            customer_id: as_i64((draw >> 24) % c.customers),
            product_id: as_i64(product),
            category: CATEGORIES[(product % CATEGORIES.len() as u64) as usize].to_string(),
            quantity: as_i64(1 + (draw >> 48) % 5),
            unit_price_cents: as_i64(499 + (mix(c.seed, product) % 200) * 100),
        })
    }

    /// Every event of the first `orders` orders, in slot order: what all workers together
    /// produce.
    pub fn events(&self, orders: u64) -> impl Iterator<Item = OrderEvent> + '_ {
        (0..orders.saturating_mul(SLOTS)).filter_map(move |i| self.slot(i))
    }

    /// The event times of order `o`'s stages (`None`: the lifecycle skips the stage).
    fn lifecycle(&self, o: u64) -> Lifecycle {
        let c = &self.config;
        let h = mix(c.seed, o);
        let jitter = as_i64(h % (u64::try_from(c.max_disorder_ms).unwrap_or(0) + 1));
        let created = c
            .start_ts
            .saturating_add(as_i64(o).saturating_mul(c.spacing_ms))
            .saturating_sub(jitter);
        let d = mix(h, 1);
        let confirmed = created + MINUTE + as_i64(d % 9) * MINUTE;
        let shipped = confirmed + HOUR + as_i64((d >> 8) % 23) * HOUR;
        let delivered = shipped + 24 * HOUR + as_i64((d >> 16) % 48) * HOUR;
        let fate = unit(d >> 24);
        let cancel_after = |t: i64| Some(t + 5 * MINUTE + as_i64((d >> 48) % 60) * MINUTE);
        let (confirmed, shipped, delivered, cancelled) = if fate < 0.08 {
            (None, None, None, cancel_after(created))
        } else if fate < 0.15 {
            (Some(confirmed), None, None, cancel_after(confirmed))
        } else if fate < 0.25 {
            (Some(confirmed), None, None, None)
        } else if fate < 0.40 {
            (Some(confirmed), Some(shipped), None, None)
        } else {
            (Some(confirmed), Some(shipped), Some(delivered), None)
        };
        Lifecycle {
            created,
            confirmed,
            shipped,
            delivered,
            cancelled,
        }
    }
}

struct Lifecycle {
    created: i64,
    confirmed: Option<i64>,
    shipped: Option<i64>,
    delivered: Option<i64>,
    cancelled: Option<i64>,
}

impl Source<OrderEvent> for OrderGenerator {
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "order generator(products={}, rate={}, seed={}, orders={})",
            c.products,
            if c.rate == 0 {
                "max".to_string()
            } else {
                format!("{}/s", c.rate)
            },
            c.seed,
            c.orders.map_or("unbounded".to_string(), |l| l.to_string())
        )
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<OrderEvent>>, EngineError> {
        Ok(Box::new(OrderReader {
            generator: self.clone(),
            next: worker.index as u64,
            step: worker.peers.max(1) as u64,
            started: Instant::now(),
        }))
    }
}

/// One worker's share: slots `i ≡ worker mod peers`, paced to the rate.
struct OrderReader {
    generator: OrderGenerator,
    next: u64,
    step: u64,
    started: Instant,
}

impl SourceReader<OrderEvent> for OrderReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, OrderEvent>, budget: usize) -> SourceStatus {
        let c = self.generator.config();
        let paced = if c.rate == 0 {
            u64::MAX
        } else {
            (self.started.elapsed().as_secs_f64() * c.rate as f64 * SLOTS as f64) as u64
        };
        let end = c.orders.map(|o| o.saturating_mul(SLOTS));
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

    #[test]
    fn lifecycles_are_deterministic_ordered_in_event_time_and_mixed() {
        let g = OrderGenerator::try_new(OrderGeneratorConfig::default()).expect("valid");
        let events: Vec<OrderEvent> = g.events(5_000).collect();
        assert_eq!(events, g.events(5_000).collect::<Vec<_>>());
        let mut by_order: BTreeMap<i64, Vec<&OrderEvent>> = BTreeMap::new();
        for e in &events {
            by_order.entry(e.order_id).or_default().push(e);
        }
        assert_eq!(by_order.len(), 5_000);
        let mut finals: BTreeMap<OrderStatus, usize> = BTreeMap::new();
        for stages in by_order.values() {
            assert_eq!(stages[0].status, OrderStatus::Created);
            assert!(
                stages
                    .windows(2)
                    .all(|w| w[0].ts < w[1].ts && w[0].status < w[1].status)
            );
            assert!(
                stages
                    .iter()
                    .all(|s| s.created_at == stages[0].ts && s.product_id == stages[0].product_id)
            );
            *finals.entry(stages[stages.len() - 1].status).or_default() += 1;
        }
        let share = |s: OrderStatus| finals.get(&s).copied().unwrap_or(0) as f64 / 5_000.0;
        assert!((0.55..0.65).contains(&share(OrderStatus::Delivered)), "{finals:?}");
        assert!((0.12..0.18).contains(&share(OrderStatus::Cancelled)), "{finals:?}");
        let hour_crossings = events
            .iter()
            .filter(|e| e.status == OrderStatus::Created)
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].created_at / HOUR < w[0].created_at / HOUR)
            .count();
        assert!(
            hour_crossings > 0,
            "some placements arrive after orders of a later hour"
        );
    }
}
