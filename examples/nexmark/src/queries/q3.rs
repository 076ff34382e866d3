//! q3 — local item suggestion: who sells in category 10 and lives in Oregon, Idaho or
//! California, with each of their auctions.
//!
//! ```sql
//! SELECT P.name, P.city, P.state, A.id
//! FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
//! WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
//! ```
//!
//! An incremental inner join: both sides are filtered first, the people are arranged by id
//! and the auctions joined against that arrangement (`join_projections`). An auction whose
//! seller has not registered yet (sellers may be up to 10 ids ahead) joins when the person
//! arrives. Unlike Flink's regular join the state is never expired, so the result is
//! exactly the batch answer over all events.

use serde::{Deserialize, Serialize};
use tributary_engine::Collection;
use tributary_operators::JoinProjections;

use crate::Event;

/// The category whose auctions are suggested.
pub const CATEGORY: i64 = 10;
/// The states whose people are local.
pub const STATES: [&str; 3] = ["OR", "ID", "CA"];

/// One output row of q3.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q3Row {
    /// The seller's name.
    pub name: String,
    /// The seller's city.
    pub city: String,
    /// The seller's state.
    pub state: String,
    /// The auction's id.
    pub id: i64,
}

/// The fields q3 reads: a local person or an auction in the category.
#[derive(Clone)]
enum Side {
    Person(i64, (String, String, String)),
    Auction { seller: i64, id: i64 },
}

impl Side {
    fn person(self) -> Option<(i64, (String, String, String))> {
        match self {
            Side::Person(id, place) => Some((id, place)),
            Side::Auction { .. } => None,
        }
    }

    fn auction(self) -> Option<(i64, i64)> {
        match self {
            Side::Auction { seller, id } => Some((seller, id)),
            Side::Person(..) => None,
        }
    }
}

/// q3 over `events`.
pub fn query(events: Collection<'_, Event>) -> Collection<'_, Q3Row> {
    let relevant = events.flat_map(|e| match e {
        Event::Person(p) if STATES.contains(&p.state.as_str()) => Some(Side::Person(p.id, (p.name, p.city, p.state))),
        Event::Auction(a) if a.category == CATEGORY => Some(Side::Auction {
            seller: a.seller,
            id: a.id,
        }),
        _ => None,
    });
    let people = relevant.clone().flat_map(Side::person).arrange_by_key();
    relevant
        .flat_map(Side::auction)
        .join_projections(&people)
        .map(|(_, (id, (name, city, state)))| Q3Row { name, city, state, id })
}
