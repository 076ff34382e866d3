//! The generator against the reference rules, on 50,000 events.

use super::*;

fn generator(seed: u64) -> NexmarkGenerator {
    NexmarkGenerator::try_new(NexmarkConfig::with_events(50_000, seed)).expect("valid")
}

#[test]
fn is_deterministic_and_seed_dependent() {
    let a: Vec<Event> = generator(1).events(2_000).collect();
    assert_eq!(a, generator(1).events(2_000).collect::<Vec<_>>());
    let b: Vec<Event> = generator(2).events(2_000).collect();
    assert_ne!(a, b);
    // Ids and times come from the index alone, whatever the seed.
    assert_eq!(
        a.iter().map(Event::date_time).collect::<Vec<_>>(),
        b.iter().map(Event::date_time).collect::<Vec<_>>()
    );
}

#[test]
fn events_follow_the_reference_rules() {
    let g = generator(7);
    let (mut people, mut auctions, mut bids) = (0i64, 0i64, 0i64);
    let mut hot_bids = 0;
    let mut previous_ts = i64::MIN;
    for (i, event) in g.events(50_000).enumerate() {
        let ts = event.date_time();
        assert!(ts >= previous_ts, "event time is in order");
        assert_eq!(ts, 1_700_000_000_000 + i as i64 / 10, "10,000 events per second");
        previous_ts = ts;
        match event {
            Event::Person(p) => {
                assert_eq!(p.id, FIRST_PERSON_ID + people, "people are numbered in order");
                people += 1;
                assert!(US_STATES.contains(&p.state.as_str()) && US_CITIES.contains(&p.city.as_str()));
                assert_eq!(p.credit_card.len(), 19);
                assert!(p.email_address.ends_with(".com"));
            }
            Event::Auction(a) => {
                assert_eq!(a.id, FIRST_AUCTION_ID + auctions, "auctions are numbered in order");
                auctions += 1;
                assert!(a.expires > a.date_time && a.expires <= a.date_time + 2 * 167 + 1);
                assert!(a.reserve >= a.initial_bid && a.initial_bid >= 100);
                assert!((10..15).contains(&a.category));
                assert!(a.seller >= FIRST_PERSON_ID && a.seller < FIRST_PERSON_ID + people + 10);
            }
            Event::Bid(b) => {
                bids += 1;
                let newest = FIRST_AUCTION_ID + auctions - 1;
                assert!(b.auction >= (newest - 100).max(FIRST_AUCTION_ID) && b.auction <= newest + 10);
                assert!(b.bidder >= FIRST_PERSON_ID && b.bidder < FIRST_PERSON_ID + people + 10);
                assert!((100..=100_000_000).contains(&b.price));
                if HOT_CHANNELS.contains(&b.channel.as_str()) {
                    hot_bids += 1;
                } else {
                    assert!(b.channel.starts_with("channel-") && b.url.starts_with("https://www.nexmark.com/"));
                }
            }
        }
    }
    assert_eq!((people, auctions, bids), (1_000, 3_000, 46_000));
    assert!(
        (21_000..25_000).contains(&hot_bids),
        "half the bids on hot channels: {hot_bids}"
    );
}

#[test]
fn events_pad_to_the_average_sizes() {
    let g = generator(3);
    let (mut bid_bytes, mut bids) = (0usize, 0usize);
    for event in g.events(5_000) {
        if let Event::Bid(b) = event {
            bid_bytes += 32 + b.extra.len();
            bids += 1;
        }
    }
    let average = bid_bytes / bids;
    assert!((95..=105).contains(&average), "average bid size {average}");
}

#[test]
fn bad_configurations_are_refused() {
    let zero_rate = NexmarkConfig {
        events_per_second: 0,
        ..NexmarkConfig::default()
    };
    let err = NexmarkGenerator::try_new(zero_rate).unwrap_err();
    assert!(err.to_string().contains("events_per_second"), "{err}");
    let zero_ratio = NexmarkConfig {
        hot_bidder_ratio: 0,
        ..NexmarkConfig::default()
    };
    assert!(NexmarkGenerator::try_new(zero_ratio).is_err());
}
