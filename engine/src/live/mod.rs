//! Live projections: where the dataflow's results become readable by queries.
//!
//! Each projection's output collection ends in a [`sink`](self) operator on every worker.
//! The sink hands its worker's updates to a typed [`ProjectionTable`] as soon as the
//! worker's input frontier says they are complete, and reports that frontier to the
//! [`LiveCatalog`]. The catalog applies pending updates only up to the *minimum* frontier over
//! every worker and every projection, under one write lock, so that a reader holding the
//! catalog's read lock sees every projection as of one frontier (`as_of`): the consistency
//! contract of DESIGN.md.
//!
//! Cost: an update is copied once from the dataflow into the table's pending buffer and
//! applied once under the lock, into a persistent map (O(log n) per key). A query freezes
//! the tables it reads in O(1) each ([`LiveTable::freeze`]) and reads the [`FrozenTable`]s
//! without a lock: by key for point lookups, in key-ordered batches for scans.
//!
//! Subscribers ([`CatalogRead::subscribe`]) get a snapshot and then every committed
//! frontier's changes through a bounded queue; see [`changes`] for the guarantees and cost.
//!
//! Scale-out note: the catalog gathers the workers of *one process*. A cluster of processes
//! needs the projection changes published to the answering process (a later issue).

mod catalog;
pub mod changes;
mod frozen;
mod sink;
mod table;

#[cfg(test)]
mod subscribe_tests;

pub use catalog::{CatalogRead, LiveCatalog, Subscribed};
pub use changes::{ChangeBatch, Subscription, SubscriptionClosed};
pub use frozen::{FrozenBatches, FrozenTable};
pub(crate) use sink::attach_projection_sink;
pub use table::{LiveTable, ProjectionTable};
