//! The Parquet history store's configuration, with documented defaults.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::HistoryStoreError;

/// How history is written. Every field but `dir` has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParquetHistoryConfig {
    /// The history directory (`DIR/history` of a data directory; see
    /// [`ParquetHistoryConfig::in_data_dir`]). Default: `history`.
    pub dir: PathBuf,
    /// Commit a file once its buffered records reach this many bytes (in memory, before
    /// compression). Default: 64 MiB.
    pub roll_bytes: usize,
    /// ...or once its oldest record has waited this long, in milliseconds. Default: 1,000 ms,
    /// which bounds how long a Kafka offset (or, later, an ingest acknowledgement) waits.
    pub roll_age_ms: u64,
    /// Rows per Parquet row group. Default: 131,072 (large enough for scans, small enough
    /// that a query reading a few rows does not decode millions).
    pub row_group_rows: usize,
    /// zstd compression level (1–22). Default: 3.
    pub zstd_level: i32,
}

impl Default for ParquetHistoryConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("history"),
            roll_bytes: 64 << 20,
            roll_age_ms: 1_000,
            row_group_rows: 131_072,
            zstd_level: 3,
        }
    }
}

impl ParquetHistoryConfig {
    /// The defaults, writing to `data_dir/history`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("history"),
            ..Self::default()
        }
    }

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), HistoryStoreError> {
        let bad = |what: &str| Err(HistoryStoreError::Config(what.to_string()));
        if self.roll_bytes == 0 || self.row_group_rows == 0 {
            return bad("roll_bytes and row_group_rows must be at least 1");
        }
        if self.roll_age_ms == 0 {
            return bad("roll_age_ms must be at least 1");
        }
        if !(1..=22).contains(&self.zstd_level) {
            return bad("zstd_level must be in 1..=22");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(ParquetHistoryConfig::default().validate().is_ok());
        let cfg: ParquetHistoryConfig = serde_json::from_str(r#"{"dir": "/d/history"}"#).expect("parses");
        assert_eq!(cfg.roll_age_ms, 1_000);
        let bad = ParquetHistoryConfig {
            zstd_level: 0,
            ..ParquetHistoryConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("zstd_level"));
        let bad = ParquetHistoryConfig {
            roll_age_ms: 0,
            ..ParquetHistoryConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
