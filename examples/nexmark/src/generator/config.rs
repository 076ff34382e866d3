//! Typed configuration of the Nexmark generator, with the reference defaults.

use serde::{Deserialize, Serialize};

use crate::NexmarkError;

/// Nexmark generator settings. Every field has a default; the defaults are the Nexmark
/// reference ones (Beam's `NexmarkConfiguration`, which Flink's and RisingWave's Nexmark
/// generators copy) except for the seed and the fixed base time, which make runs repeatable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NexmarkConfig {
    /// Events to generate over all workers (a bounded source). Default: 100,000.
    pub events: u64,
    /// Seed; the same seed gives the same events. Default: 0.
    pub seed: u64,
    /// Event time of event 0, epoch milliseconds. Default: 1,700,000,000,000 (Nov 2023),
    /// a multiple of 10 s so that the first tumbling window starts with the first event.
    pub base_time_ms: i64,
    /// Events per second of *event time*: event `i` happens at
    /// `base_time_ms + i · (1,000,000 / rate) µs`. The source itself emits as fast as the
    /// pipeline takes events. Default: 10,000 (Nexmark's `firstEventRate`).
    pub events_per_second: u64,
    /// People considered active for new auctions and bids. Default: 1,000.
    pub active_people: u64,
    /// Average number of auctions open at any time. Default: 100.
    pub in_flight_auctions: u64,
    /// Auction categories (ids from 10). Default: 5.
    pub num_categories: u64,
    /// `ratio − 1` of `ratio` auctions are by a hot seller (the reference's
    /// `hotSellersRatio`). Default: 4.
    pub hot_seller_ratio: u64,
    /// `ratio − 1` of `ratio` bids are for a hot auction. Default: 2.
    pub hot_auction_ratio: u64,
    /// `ratio − 1` of `ratio` bids are by a hot bidder. Default: 4.
    pub hot_bidder_ratio: u64,
    /// `ratio − 1` of `ratio` bids come from one of the four hot channels. Default: 2.
    pub hot_channel_ratio: u64,
    /// Average size of a person event in bytes; its `extra` field pads to it. Default: 200.
    pub avg_person_byte_size: usize,
    /// Average size of an auction event in bytes. Default: 500.
    pub avg_auction_byte_size: usize,
    /// Average size of a bid event in bytes. Default: 100.
    pub avg_bid_byte_size: usize,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        Self {
            events: 100_000,
            seed: 0,
            base_time_ms: 1_700_000_000_000,
            events_per_second: 10_000,
            active_people: 1_000,
            in_flight_auctions: 100,
            num_categories: 5,
            hot_seller_ratio: 4,
            hot_auction_ratio: 2,
            hot_bidder_ratio: 4,
            hot_channel_ratio: 2,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
        }
    }
}

impl NexmarkConfig {
    /// The defaults with `events` events and `seed`.
    pub fn with_events(events: u64, seed: u64) -> Self {
        Self {
            events,
            seed,
            ..Self::default()
        }
    }

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), NexmarkError> {
        let bad = |reason: &str| Err(NexmarkError::Config(reason.to_string()));
        if !(1..=1_000_000).contains(&self.events_per_second) {
            return bad("events_per_second must be in 1..=1,000,000");
        }
        if self.active_people == 0 || self.in_flight_auctions == 0 || self.num_categories == 0 {
            return bad("active_people, in_flight_auctions and num_categories must be at least 1");
        }
        let ratios = [
            self.hot_seller_ratio,
            self.hot_auction_ratio,
            self.hot_bidder_ratio,
            self.hot_channel_ratio,
        ];
        if ratios.contains(&0) {
            return bad("hot ratios must be at least 1");
        }
        if self.base_time_ms < 0 {
            return bad("base_time_ms must not be negative");
        }
        Ok(())
    }

    /// Event-time distance between consecutive events, in microseconds (as the reference
    /// computes it: an integer number of µs).
    pub fn inter_event_delay_us(&self) -> u64 {
        1_000_000 / self.events_per_second.max(1)
    }
}
