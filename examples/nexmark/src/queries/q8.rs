//! q8 — monitor new users: people who opened an auction in the same tumbling 10 s window
//! in which they registered.
//!
//! ```sql
//! SELECT P.id, P.name, P.starttime AS window_start
//! FROM (
//!     SELECT id, name, window_start AS starttime, window_end AS endtime
//!     FROM TUMBLE(person, date_time, INTERVAL '10' SECOND)
//!     GROUP BY id, name, window_start, window_end
//! ) P
//! JOIN (
//!     SELECT seller, window_start AS starttime, window_end AS endtime
//!     FROM TUMBLE(auction, date_time, INTERVAL '10' SECOND)
//!     GROUP BY seller, window_start, window_end
//! ) A ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
//! ```
//!
//! RisingWave's q8 (Flink's is the same). Dataflow: people and sellers are assigned to
//! their tumbling window (`windowed`), made distinct per window (the `GROUP BY`s), and
//! joined on `(person, window start)`; a seller whose auction comes before the person
//! registers joins when the person does.

use serde::{Deserialize, Serialize};
use tributary_engine::Collection;
use tributary_operators::{JoinProjections, WindowSpec, Windowed};

use crate::Event;

/// Window length.
pub const SIZE_MS: i64 = 10_000;

/// One output row of q8.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q8Row {
    /// The new person's id.
    pub id: i64,
    /// Their name.
    pub name: String,
    /// The window's start, epoch milliseconds.
    pub window_start: i64,
}

/// The fields q8 reads.
#[derive(Clone)]
enum Side {
    /// `(id, (date_time, name))`
    Person(i64, (i64, String)),
    /// `(seller, (date_time, ()))`
    Seller(i64, (i64, ())),
}

impl Side {
    fn person(self) -> Option<(i64, (i64, String))> {
        match self {
            Side::Person(id, fields) => Some((id, fields)),
            Side::Seller(..) => None,
        }
    }

    fn seller(self) -> Option<(i64, (i64, ()))> {
        match self {
            Side::Seller(id, fields) => Some((id, fields)),
            Side::Person(..) => None,
        }
    }
}

/// q8 over `events`.
pub fn query(events: Collection<'_, Event>) -> Collection<'_, Q8Row> {
    let window = WindowSpec::tumbling(SIZE_MS);
    let relevant = events.flat_map(|e| match e {
        Event::Person(p) => Some(Side::Person(p.id, (p.date_time, p.name))),
        Event::Auction(a) => Some(Side::Seller(a.seller, (a.date_time, ()))),
        Event::Bid(_) => None,
    });
    let people = relevant
        .clone()
        .flat_map(Side::person)
        .windowed(window)
        .map(|((id, w), (_, name))| ((id, w.start), name))
        .distinct();
    let sellers = relevant
        .flat_map(Side::seller)
        .windowed(window)
        .map(|((seller, w), _)| (seller, w.start))
        .distinct()
        .map(|key| (key, ()))
        .arrange_by_key();
    people
        .join_projections(&sellers)
        .map(|((id, window_start), (name, ()))| Q8Row { id, name, window_start })
}
