//! The order-analytics pipeline: order lifecycle events → the current state of every order,
//! hourly revenue per product and per category, and the status funnel — what an e-commerce
//! back end keeps in an OLTP read replica plus a nightly warehouse job.
//!
//! Input stream `orders` ([`OrderEvent`]: `order_id, status, ts, created_at, customer_id,
//! product_id, category, quantity, unit_price_cents`), from Kafka, HTTP ingest or the
//! built-in [`OrderGenerator`]; with history on, every event is kept and `history.orders`
//! answers questions about previous days. Projections:
//!
//! * `orders` ([`Order`]): each order's current state, keyed by `order_id`: the event with
//!   the greatest event time `ts` wins (ties: the later stage), so a stage that arrives late
//!   never overwrites a newer one;
//! * `revenue_by_product` ([`ProductRevenue`]) and `revenue_by_category`
//!   ([`CategoryRevenue`]): per key and tumbling window of [`OrderAnalyticsConfig::window_ms`]
//!   (an hour) of the orders' *placement* time, the count and total amount (exact integer
//!   cents) of the orders not cancelled. A late placement updates its (older) hour, and a
//!   cancellation withdraws the order from the hour it was placed in: windows are corrected,
//!   never closed;
//! * `status_funnel` ([`FunnelStage`]): per status, how many orders ever reached it and how
//!   many are in it now.

mod event;
mod generator;

pub use event::{CategoryRevenue, FunnelStage, Order, OrderEvent, OrderStatus, ProductRevenue};
pub use generator::{OrderGenerator, OrderGeneratorConfig};

use serde::{Deserialize, Serialize};
use tributary_engine::source::{Source, StreamSpec};
use tributary_engine::{EngineError, Pipeline, ProjectionSpec};
use tributary_operators::{AggregatePerKey, CountDistinctPerKey, CountPerKey, ExactSum, Upsert, WindowSpec, Windowed};

/// Name of the input stream (and of its history, `history.orders`).
pub const ORDERS_STREAM: &str = "orders";
/// Name of the order entity table.
pub const ORDERS: &str = "orders";
/// Name of the hourly revenue per product.
pub const REVENUE_BY_PRODUCT: &str = "revenue_by_product";
/// Name of the hourly revenue per category.
pub const REVENUE_BY_CATEGORY: &str = "revenue_by_category";
/// Name of the status funnel.
pub const STATUS_FUNNEL: &str = "status_funnel";

/// Pipeline settings. Every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderAnalyticsConfig {
    /// Length of the revenue windows, in milliseconds. Default: 3,600,000 (an hour).
    pub window_ms: i64,
}

impl Default for OrderAnalyticsConfig {
    fn default() -> Self {
        Self { window_ms: 3_600_000 }
    }
}

/// Builds the order-analytics pipeline over `source` with `config`.
pub fn build<S>(p: &mut Pipeline<'_>, source: &S, config: OrderAnalyticsConfig) -> Result<(), EngineError>
where
    S: Source<OrderEvent> + ?Sized,
{
    let windows =
        WindowSpec::try_tumbling(config.window_ms).map_err(|e| EngineError::Config(format!("window_ms: {e}")))?;
    let events = p.source_with(
        StreamSpec::new(ORDERS_STREAM).with_event_time(|e: &OrderEvent| e.ts),
        source,
    )?;
    let orders = events
        .clone()
        .map(|e| (e.order_id, (e.ts, Some(e.state()))))
        .upsert()
        .map(|(_, order)| order);

    let billable = orders.clone().filter(|o| o.status != OrderStatus::Cancelled);
    let by_product = billable
        .clone()
        .map(|o| (o.product_id, (o.created_at, o.amount_cents)))
        .windowed(windows)
        .map(|(key, (_, cents))| (key, cents))
        .aggregate_per_key()
        .map(|((product_id, w), a)| ProductRevenue {
            product_id,
            window_start: w.start,
            window_end: w.end,
            orders: a.count,
            revenue_cents: cents(a.sum),
        });
    let by_category = billable
        .map(|o| (o.category, (o.created_at, o.amount_cents)))
        .windowed(windows)
        .map(|(key, (_, cents))| (key, cents))
        .aggregate_per_key()
        .map(|((category, w), a)| CategoryRevenue {
            category,
            window_start: w.start,
            window_end: w.end,
            orders: a.count,
            revenue_cents: cents(a.sum),
        });

    let reached = events
        .map(|e| (e.status, e.order_id))
        .count_distinct_per_key()
        .map(|(status, n)| (status, (n, 0)));
    let current = orders
        .clone()
        .map(|o| (o.status, ()))
        .count_per_key()
        .map(|(status, n)| (status, (0, n)));
    let funnel = reached
        .concat(current)
        .reduce(
            |_, group: &[(&(i64, i64), isize)], out: &mut Vec<((i64, i64), isize)>| {
                let (mut reached, mut current) = (0, 0);
                for ((r, c), m) in group {
                    let m = *m as i64;
                    reached += r * m;
                    current += c * m;
                }
                out.push(((reached, current), 1));
            },
        )
        .map(|(status, (reached, current))| FunnelStage {
            status,
            reached,
            current,
        });

    let timestamps = ["created_at", "updated_at"];
    p.projection(
        ProjectionSpec::new(ORDERS)
            .with_timestamp_ms(timestamps)
            .with_key_columns(["order_id"]),
        orders,
        |o| o.order_id,
    )?;
    let windowed = ["window_start", "window_end"];
    p.projection(
        ProjectionSpec::new(REVENUE_BY_PRODUCT).with_timestamp_ms(windowed),
        by_product,
        |r| (r.product_id, r.window_start),
    )?;
    p.projection(
        ProjectionSpec::new(REVENUE_BY_CATEGORY).with_timestamp_ms(windowed),
        by_category,
        |r| (r.category.clone(), r.window_start),
    )?;
    p.projection(
        ProjectionSpec::new(STATUS_FUNNEL).with_key_columns(["status"]),
        funnel,
        |f| f.status,
    )
}

/// A sum of whole cents back to cents.
fn cents(sum: ExactSum) -> i64 {
    i64::try_from(sum.0 / ExactSum::SCALE).unwrap_or(i64::MAX)
}
