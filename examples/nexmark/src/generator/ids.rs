//! The Nexmark id rules: which kind event `i` is, and which people and auctions exist at it.
//!
//! Events come in blocks of 50: one person, then three auctions, then 46 bids (the 1:3:46
//! mix). So the number of people and auctions created before any event is a function of
//! its index alone, and every worker can tell which ids a bid or an auction may refer to
//! without seeing the other workers' events. Ids are "base 0" here; the generator adds
//! [`FIRST_PERSON_ID`] / [`FIRST_AUCTION_ID`] as the reference does (so that small data sets
//! still hit the ids the reference queries name).

use super::config::NexmarkConfig;
use super::random::EventRng;

/// People per block of events.
pub const PERSON_PROPORTION: u64 = 1;
/// Auctions per block of events.
pub const AUCTION_PROPORTION: u64 = 3;
/// Bids per block of events.
pub const BID_PROPORTION: u64 = 46;
/// Events per block.
pub const PROPORTION_DENOMINATOR: u64 = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;

/// The first person id.
pub const FIRST_PERSON_ID: i64 = 1_000;
/// The first auction id.
pub const FIRST_AUCTION_ID: i64 = 1_000;
/// The first category id.
pub const FIRST_CATEGORY_ID: i64 = 10;

/// How far beyond the newest person a random person id may reach (a person "not yet seen").
const PERSON_ID_LEAD: u64 = 10;
/// How far beyond the newest auction a random auction id may reach.
const AUCTION_ID_LEAD: u64 = 10;
/// One person in this many is a hot seller (the first of each batch).
pub(crate) const HOT_SELLER_BATCH: i64 = 100;
/// One auction in this many is a hot auction.
pub(crate) const HOT_AUCTION_BATCH: i64 = 100;
/// One person in this many is a hot bidder (the second of each batch).
pub(crate) const HOT_BIDDER_BATCH: i64 = 100;

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// A new person.
    Person,
    /// A new auction.
    Auction,
    /// A bid.
    Bid,
}

/// The kind of event `index`.
pub fn event_kind(index: u64) -> EventKind {
    let rem = index % PROPORTION_DENOMINATOR;
    if rem < PERSON_PROPORTION {
        EventKind::Person
    } else if rem < PERSON_PROPORTION + AUCTION_PROPORTION {
        EventKind::Auction
    } else {
        EventKind::Bid
    }
}

/// The newest person (base 0) at event `index`: its own id if it is a person. With one
/// person opening each block, that is the block number.
pub(crate) fn last_person(index: u64) -> i64 {
    const { assert!(PERSON_PROPORTION == 1) };
    (index / PROPORTION_DENOMINATOR) as i64
}

/// The newest auction (base 0) at event `index`: its own id if it is an auction; `-1`
/// before the first auction.
pub(crate) fn last_auction(index: u64) -> i64 {
    let mut block = (index / PROPORTION_DENOMINATOR) as i64;
    let mut offset = (index % PROPORTION_DENOMINATOR) as i64;
    let (person, auction) = (PERSON_PROPORTION as i64, AUCTION_PROPORTION as i64);
    if offset < person {
        block -= 1;
        offset = auction - 1;
    } else if offset >= person + auction {
        offset = auction - 1;
    } else {
        offset -= person;
    }
    block * auction + offset
}

/// A random person (base 0) among the active ones at event `index`, or up to
/// [`PERSON_ID_LEAD`] beyond the newest.
pub(crate) fn next_person(index: u64, rng: &mut EventRng, config: &NexmarkConfig) -> i64 {
    let people = last_person(index) + 1;
    let active = people.min(config.active_people as i64);
    let n = rng.below(active as u64 + PERSON_ID_LEAD) as i64;
    people - active + n
}

/// A random auction (base 0) among the last `in_flight_auctions` at event `index`, or up to
/// [`AUCTION_ID_LEAD`] beyond the newest.
pub(crate) fn next_auction(index: u64, rng: &mut EventRng, config: &NexmarkConfig) -> i64 {
    let max = last_auction(index);
    let min = (max - config.in_flight_auctions as i64).max(0);
    let span = (max - min + 1).max(0) as u64 + AUCTION_ID_LEAD;
    min + rng.below(span) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_follow_the_one_three_forty_six_mix() {
        let kinds: Vec<EventKind> = (0..100).map(event_kind).collect();
        assert_eq!(kinds[0], EventKind::Person);
        assert_eq!(kinds[1..4], [EventKind::Auction; 3]);
        assert!(kinds[4..50].iter().all(|k| *k == EventKind::Bid));
        assert_eq!(kinds[50], EventKind::Person);
        let auctions = (0..5_000).filter(|i| event_kind(*i) == EventKind::Auction).count();
        assert_eq!(auctions, 300);
    }

    #[test]
    fn people_and_auctions_are_numbered_in_creation_order() {
        let mut people = Vec::new();
        let mut auctions = Vec::new();
        for i in 0..500 {
            match event_kind(i) {
                EventKind::Person => people.push(last_person(i)),
                EventKind::Auction => auctions.push(last_auction(i)),
                EventKind::Bid => {
                    // A bid sees exactly the people and auctions created before it.
                    assert_eq!(last_person(i), people.len() as i64 - 1);
                    assert_eq!(last_auction(i), auctions.len() as i64 - 1);
                }
            }
        }
        assert_eq!(people, (0..10).collect::<Vec<_>>());
        assert_eq!(auctions, (0..30).collect::<Vec<_>>());
        assert_eq!(last_auction(0), -1);
    }

    #[test]
    fn random_ids_stay_within_the_active_window_and_lead() {
        let config = NexmarkConfig::default();
        for i in (0..200_000).step_by(37) {
            let mut rng = EventRng::new(5, i);
            let person = next_person(i, &mut rng, &config);
            let last = last_person(i);
            assert!(
                person >= (last + 1 - 1_000).max(0) && person <= last + 10,
                "person {person} at {i}"
            );
            let auction = next_auction(i, &mut rng, &config);
            let last = last_auction(i);
            assert!(
                auction >= (last - 100).max(0) && auction <= last.max(0) + 10,
                "auction {auction} at {i}"
            );
        }
    }
}
