//! The Nexmark events: people, auctions and bids, with the reference field set.
//!
//! Ids, prices and times are `i64` (SQL `BIGINT`; times are epoch milliseconds), strings are
//! owned. Field names are the snake_case ones of the RisingWave/Flink Nexmark tables, so the
//! same structs serialise into the Arrow tables the batch SQL tests query.

use serde::{Deserialize, Serialize};

/// A person registering to buy or sell (`person` table).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Person {
    /// Person id, unique, from 1000 up.
    pub id: i64,
    /// First and last name.
    pub name: String,
    /// E-mail address.
    pub email_address: String,
    /// Credit card number, four groups of four digits.
    pub credit_card: String,
    /// US city.
    pub city: String,
    /// US state (two capital letters).
    pub state: String,
    /// Event time, epoch milliseconds.
    pub date_time: i64,
    /// Padding to the configured average event size.
    pub extra: String,
}

/// An item put up for auction (`auction` table).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Auction {
    /// Auction id, unique, from 1000 up.
    pub id: i64,
    /// Item name.
    pub item_name: String,
    /// Item description.
    pub description: String,
    /// Initial bid, cents.
    pub initial_bid: i64,
    /// Reserve price, cents (at least the initial bid).
    pub reserve: i64,
    /// Event time, epoch milliseconds.
    pub date_time: i64,
    /// When the auction closes, epoch milliseconds (after `date_time`).
    pub expires: i64,
    /// The selling person's id.
    pub seller: i64,
    /// Category id, from 10 up.
    pub category: i64,
    /// Padding to the configured average event size.
    pub extra: String,
}

/// A bid on an auction (`bid` table).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Bid {
    /// The auction's id (possibly of an auction not created yet, as in the reference).
    pub auction: i64,
    /// The bidding person's id.
    pub bidder: i64,
    /// Price, cents.
    pub price: i64,
    /// Channel the bid came through.
    pub channel: String,
    /// URL the bid came from.
    pub url: String,
    /// Event time, epoch milliseconds.
    pub date_time: i64,
    /// Padding to the configured average event size.
    pub extra: String,
}

/// One Nexmark event. Serialises as `{"person": {...}}`, `{"auction": {...}}` or
/// `{"bid": {...}}` (so a stream of them can also be fed by HTTP ingest).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

impl Event {
    /// The event time, epoch milliseconds.
    pub fn date_time(&self) -> i64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// The bid, if this is one.
    pub fn into_bid(self) -> Option<Bid> {
        match self {
            Event::Bid(b) => Some(b),
            _ => None,
        }
    }
}
