//! The Nexmark event generator, following the reference rules (Beam's `NexmarkGenerator`,
//! which the Flink and RisingWave Nexmark suites reuse).
//!
//! * **Mix**: blocks of 50 events — 1 person, 3 auctions, 46 bids ([`ids`]).
//! * **Ids**: people and auctions are numbered in creation order from 1000; an auction's
//!   seller is a *hot* seller (the first person of the newest batch of 100) with probability
//!   `1 − 1/hot_seller_ratio`, else one of the `active_people` newest (or up to 10 ahead); a
//!   bid's auction is hot (the first of the newest 100 auctions) with probability
//!   `1 − 1/hot_auction_ratio`, else one of the `in_flight_auctions` newest (or up to 10
//!   ahead, i.e. not created yet); its bidder is hot (the second person of the newest batch)
//!   with probability `1 − 1/hot_bidder_ratio`. Categories are 10..10 + `num_categories`.
//! * **Time**: event `i` happens at `base_time_ms + ⌊i · inter_event_delay_us / 1000⌋`, in
//!   order; an auction expires `1 + uniform(0 .. 2·horizon)` ms after it opens, where the
//!   horizon is the event time `in_flight_auctions · 50 / 3` events later (so about
//!   `in_flight_auctions` auctions are open at once).
//! * **Fields**: prices `round(10^(6u) · 100)` cents; names, cities and states from the
//!   reference lists; random lowercase strings; `extra` pads each event to the configured
//!   average size; a bid's channel is one of four hot channels with probability
//!   `1 − 1/hot_channel_ratio`, else `channel-N` for N < 10,000, with a URL per channel.
//!
//! Event `i` is a pure function of `(config, i)` — randomness comes from a counter-based
//! stream seeded by `(seed, i)` ([`random`]) — so the stream splits across workers by index
//! (worker `w` of `n` emits `i ≡ w mod n`, like `tributary-connectors`' sensor generator)
//! and [`NexmarkGenerator::events`] recomputes exactly what all workers emitted, for batch
//! checks.
//!
//! Why not the `nexmark` crate (RisingWave's, 0.2): it has no seed (events depend on the
//! event id only), its base time defaults to the wall clock, ids and times are `usize`/`u64`
//! rather than SQL's `BIGINT`, and it builds a `rand` `SmallRng` per event plus a lazily
//! built 10,000-entry channel table; the rules are few enough to follow here directly.

mod config;
pub mod ids;
mod model;
mod random;
mod reader;

use std::sync::Arc;

pub use config::NexmarkConfig;
pub use ids::{EventKind, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID, event_kind};
pub use model::{Auction, Bid, Event, Person};

use ids::{HOT_AUCTION_BATCH, HOT_BIDDER_BATCH, HOT_SELLER_BATCH, PROPORTION_DENOMINATOR};
use random::EventRng;
use reader::NexmarkReader;
use tributary_engine::EngineError;
use tributary_engine::source::{Source, SourceReader, WorkerInfo};

use crate::NexmarkError;

/// The reference lists of first names, last names, cities, states and hot channels.
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// Distinct non-hot channels.
const CHANNELS: u64 = 10_000;

/// The deterministic Nexmark generator (see the module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct NexmarkGenerator {
    config: Arc<NexmarkConfig>,
    hot_urls: Arc<[String; 4]>,
}

impl NexmarkGenerator {
    /// Validates the configuration and builds the generator.
    pub fn try_new(config: NexmarkConfig) -> Result<Self, NexmarkError> {
        config.validate()?;
        let hot_urls = Arc::new([0, 1, 2, 3].map(base_url));
        Ok(Self {
            config: Arc::new(config),
            hot_urls,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// The event time of event `index`.
    pub fn timestamp(&self, index: u64) -> i64 {
        let us = u128::from(index) * u128::from(self.config.inter_event_delay_us());
        self.config
            .base_time_ms
            .saturating_add(i64::try_from(us / 1_000).unwrap_or(i64::MAX))
    }

    /// Event number `index`.
    pub fn event(&self, index: u64) -> Event {
        let mut rng = EventRng::new(self.config.seed, index);
        let ts = self.timestamp(index);
        match event_kind(index) {
            EventKind::Person => Event::Person(self.person(index, ts, &mut rng)),
            EventKind::Auction => Event::Auction(self.auction(index, ts, &mut rng)),
            EventKind::Bid => Event::Bid(self.bid(index, ts, &mut rng)),
        }
    }

    /// The first `n` events in index order: what all workers together emit for `events = n`.
    pub fn events(&self, n: u64) -> impl Iterator<Item = Event> + '_ {
        (0..n).map(move |i| self.event(i))
    }

    fn person(&self, index: u64, ts: i64, rng: &mut EventRng) -> Person {
        let id = ids::last_person(index) + FIRST_PERSON_ID;
        let name = format!(
            "{} {}",
            pick(&FIRST_NAMES, rng.below(FIRST_NAMES.len() as u64)),
            pick(&LAST_NAMES, rng.below(LAST_NAMES.len() as u64))
        );
        let mut email_address = rng.letters(7);
        email_address.push('@');
        rng.push_letters(5, &mut email_address);
        email_address.push_str(".com");
        let credit_card = format!(
            "{:04} {:04} {:04} {:04}",
            rng.below(10_000),
            rng.below(10_000),
            rng.below(10_000),
            rng.below(10_000)
        );
        let city = pick(&US_CITIES, rng.below(US_CITIES.len() as u64)).to_string();
        let state = pick(&US_STATES, rng.below(US_STATES.len() as u64)).to_string();
        let size = 8 + name.len() + email_address.len() + credit_card.len() + city.len() + state.len();
        let extra = rng.extra(size, self.config.avg_person_byte_size);
        Person {
            id,
            name,
            email_address,
            credit_card,
            city,
            state,
            date_time: ts,
            extra,
        }
    }

    fn auction(&self, index: u64, ts: i64, rng: &mut EventRng) -> Auction {
        let c = &self.config;
        let id = ids::last_auction(index) + FIRST_AUCTION_ID;
        let item_name = rng.letters(20);
        let description = rng.letters(100);
        let initial_bid = rng.price();
        let reserve = initial_bid + rng.price();
        // The horizon: when the auction `in_flight_auctions` auctions later will open.
        let later = index + c.in_flight_auctions * PROPORTION_DENOMINATOR / ids::AUCTION_PROPORTION;
        let horizon = (self.timestamp(later) - ts).max(0) as u64;
        let expires = ts + 1 + rng.below((horizon * 2).max(1)) as i64;
        let seller = FIRST_PERSON_ID
            + if rng.below(c.hot_seller_ratio) > 0 {
                (ids::last_person(index) / HOT_SELLER_BATCH) * HOT_SELLER_BATCH
            } else {
                ids::next_person(index, rng, c)
            };
        let category = FIRST_CATEGORY_ID + rng.below(c.num_categories) as i64;
        let size = 8 + item_name.len() + description.len() + 8 + 8 + 8 + 8 + 8;
        let extra = rng.extra(size, c.avg_auction_byte_size);
        Auction {
            id,
            item_name,
            description,
            initial_bid,
            reserve,
            date_time: ts,
            expires,
            seller,
            category,
            extra,
        }
    }

    fn bid(&self, index: u64, ts: i64, rng: &mut EventRng) -> Bid {
        let c = &self.config;
        let auction = FIRST_AUCTION_ID
            + if rng.below(c.hot_auction_ratio) > 0 {
                (ids::last_auction(index).max(0) / HOT_AUCTION_BATCH) * HOT_AUCTION_BATCH
            } else {
                ids::next_auction(index, rng, c)
            };
        // The second person of the batch, so that hot bidders are not the hot sellers.
        let bidder = FIRST_PERSON_ID
            + if rng.below(c.hot_bidder_ratio) > 0 {
                (ids::last_person(index) / HOT_BIDDER_BATCH) * HOT_BIDDER_BATCH + 1
            } else {
                ids::next_person(index, rng, c)
            };
        let price = rng.price();
        let (channel, url) = if rng.below(c.hot_channel_ratio) > 0 {
            let hot = rng.below(HOT_CHANNELS.len() as u64) as usize;
            (pick(&HOT_CHANNELS, hot as u64).to_string(), self.hot_urls[hot].clone())
        } else {
            let n = rng.below(CHANNELS);
            (format!("channel-{n}"), channel_url(n))
        };
        let extra = rng.extra(8 + 8 + 8 + 8, c.avg_bid_byte_size);
        Bid {
            auction,
            bidder,
            price,
            channel,
            url,
            date_time: ts,
            extra,
        }
    }
}

/// `list[i]`; `i` is always drawn below the list's length.
fn pick<'a>(list: &[&'a str], i: u64) -> &'a str {
    list.get(i as usize).copied().unwrap_or_default()
}

/// The reference's item URL for a seed: three random path segments of 3 or 4 letters.
fn base_url(seed: u64) -> String {
    let mut rng = EventRng::new(u64::MAX, seed);
    let mut url = String::from("https://www.nexmark.com/");
    for _ in 0..3 {
        let len = 3 + rng.below(2) as usize;
        rng.push_letters(len, &mut url);
        url.push('/');
    }
    url.push_str("item.htm?query=1");
    url
}

/// The URL of non-hot channel `n`: its base URL and, for nine channels in ten, a channel id.
fn channel_url(n: u64) -> String {
    let mut url = base_url(n);
    if !random::mix(n).is_multiple_of(10) {
        url.push_str("&channel_id=");
        url.push_str(&(n as u32).reverse_bits().to_string());
    }
    url
}

impl Source<Event> for NexmarkGenerator {
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "nexmark(events={}, seed={}, events_per_second={})",
            c.events, c.seed, c.events_per_second
        )
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<Event>>, EngineError> {
        Ok(Box::new(NexmarkReader::new(self.clone(), worker)))
    }
}

#[cfg(test)]
mod tests;
