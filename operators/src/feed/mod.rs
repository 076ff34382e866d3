//! Feeds: the N items with the greatest sort column, per key or over everything.
//!
//! Both operators share one hierarchical top-N reduction (`top.rs`), so a global top-N is
//! spread over all workers until its last stage, and an update never re-reads a key's whole
//! history.

mod latest_n;
mod top;
mod top_n;

pub use latest_n::LatestNPerKey;
pub use top_n::TopN;
