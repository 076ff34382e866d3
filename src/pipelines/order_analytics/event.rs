//! The `orders` stream's record and the rows of the order projections.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// An order's lifecycle stage. Declaration order is the funnel's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrderStatus {
    /// Placed by the customer.
    Created,
    /// Payment confirmed.
    Confirmed,
    /// Handed to the carrier.
    Shipped,
    /// Received by the customer.
    Delivered,
    /// Cancelled (at any stage before delivery): its revenue is withdrawn.
    Cancelled,
}

impl OrderStatus {
    /// Every status, in funnel order.
    pub const ALL: [Self; 5] = [
        Self::Created,
        Self::Confirmed,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// The wire name: `created`, `confirmed`, `shipped`, `delivered` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// A plain string on the wire and in Arrow (history, SQL): serde's derived enum would become
// an Arrow union, which Parquet history cannot store.
impl Serialize for OrderStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OrderStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde_arrow's schema tracer (behind `derive_arrow_fields`) hands every string field
        // an empty sample; for it the field is what it stores, a string.
        let tracing = std::any::type_name::<D>().starts_with("serde_arrow::");
        let text = String::deserialize(d)?;
        match Self::ALL.into_iter().find(|s| s.as_str() == text) {
            Some(status) => Ok(status),
            None if tracing && text.is_empty() => Ok(Self::Created),
            None => Err(de::Error::custom(format!(
                "unknown status {text:?}: expected created, confirmed, shipped, delivered or cancelled"
            ))),
        }
    }
}

/// One event of the `orders` stream: the order entered `status` at `ts`.
///
/// Like a change-data-capture record, each event carries the whole order (one product line
/// per order), so the entity table needs nothing but the events. Amounts are integer cents:
/// revenue sums are exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// The order.
    pub order_id: i64,
    /// The stage it entered.
    pub status: OrderStatus,
    /// Event time of the change, epoch milliseconds (JSON may also give RFC 3339).
    #[serde(deserialize_with = "tributary_engine::record::event_time_ms")]
    pub ts: i64,
    /// When the order was placed: the hour its revenue counts in (epoch ms or RFC 3339).
    #[serde(deserialize_with = "tributary_engine::record::event_time_ms")]
    pub created_at: i64,
    /// The customer.
    pub customer_id: i64,
    /// The product ordered.
    pub product_id: i64,
    /// The product's category.
    pub category: String,
    /// Units ordered.
    pub quantity: i64,
    /// Price per unit, in cents.
    pub unit_price_cents: i64,
}

/// One row of `orders`: an order's current state.
///
/// Field order is the tie-break order of two changes with the same event time (derived
/// `Ord`, greatest wins): the later stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Order {
    /// The order.
    pub order_id: i64,
    /// Its current stage (SQL: `VARCHAR`).
    pub status: OrderStatus,
    /// When it was placed (SQL: `TIMESTAMP`).
    pub created_at: i64,
    /// When it entered its current stage (SQL: `TIMESTAMP`).
    pub updated_at: i64,
    /// The customer.
    pub customer_id: i64,
    /// The product.
    pub product_id: i64,
    /// The product's category.
    pub category: String,
    /// Units ordered.
    pub quantity: i64,
    /// `quantity × unit_price_cents`.
    pub amount_cents: i64,
}

impl OrderEvent {
    /// The order's state after this event.
    pub fn state(&self) -> Order {
        Order {
            order_id: self.order_id,
            status: self.status,
            created_at: self.created_at,
            updated_at: self.ts,
            customer_id: self.customer_id,
            product_id: self.product_id,
            category: self.category.clone(),
            quantity: self.quantity,
            amount_cents: self.quantity.saturating_mul(self.unit_price_cents),
        }
    }
}

/// One row of `revenue_by_product`: an hour's revenue of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRevenue {
    /// The product.
    pub product_id: i64,
    /// Start of the hour (SQL: `TIMESTAMP`).
    pub window_start: i64,
    /// End of the hour, exclusive (SQL: `TIMESTAMP`).
    pub window_end: i64,
    /// Orders placed in the hour and not cancelled.
    pub orders: i64,
    /// Their total amount, in cents.
    pub revenue_cents: i64,
}

/// One row of `revenue_by_category`: an hour's revenue of one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRevenue {
    /// The category.
    pub category: String,
    /// Start of the hour (SQL: `TIMESTAMP`).
    pub window_start: i64,
    /// End of the hour, exclusive (SQL: `TIMESTAMP`).
    pub window_end: i64,
    /// Orders placed in the hour and not cancelled.
    pub orders: i64,
    /// Their total amount, in cents.
    pub revenue_cents: i64,
}

/// One row of `status_funnel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelStage {
    /// The stage (SQL: `VARCHAR`).
    pub status: OrderStatus,
    /// Orders that ever reached it (had an event with this status).
    pub reached: i64,
    /// Orders in it now.
    pub current: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_as_strings_and_unknown_ones_are_refused_by_name() {
        for status in OrderStatus::ALL {
            let json = serde_json::to_string(&status).expect("serialises");
            assert_eq!(serde_json::from_str::<OrderStatus>(&json).expect("parses"), status);
        }
        let err = serde_json::from_str::<OrderStatus>("\"lost\"").expect_err("unknown");
        assert!(err.to_string().contains("unknown status \"lost\""), "{err}");
        let fields = tributary_engine::record::derive_arrow_fields::<OrderEvent>(&[]).expect("derives");
        let status = fields.iter().find(|f| f.name() == "status").expect("column");
        assert!(
            status.data_type().to_string().ends_with("Utf8"),
            "{}",
            status.data_type()
        );
    }
}
