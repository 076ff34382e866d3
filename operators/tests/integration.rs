//! Property tests: every operator against a from-scratch oracle at every epoch.
//!
//! One test binary (modules below) to save link time.

mod oracle;

mod aggregates;
mod extremes;
mod feeds;
mod joins;
mod lateness;
mod scores;
mod stats;
mod tables;
mod triggers;
mod windows;
