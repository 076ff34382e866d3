//! Anomaly scores: each reading scored against its key's strictly earlier readings.
//!
//! Split by idea: `scorer` is the pluggable model (`Scorer`), `zscore` and `ewma` the
//! built-in ones, `history` the per-key sorted readings and checkpoints that make late
//! readings cheap to correct, `settle` the buffer that lets moderately late readings
//! be scored in order, `operator` the timely operator, `rows` what it outputs.

pub(crate) mod ewma;
pub(crate) mod history;
pub(crate) mod operator;
pub(crate) mod rows;
pub(crate) mod scorer;
pub(crate) mod settle;
pub(crate) mod zscore;
