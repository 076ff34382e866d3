//! One committed history file: partitioning a roll by event date/hour, and writing a
//! Parquet file so that it appears atomically (`.tmp`, fsync, rename, fsync the directory).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, TimestampMillisecondArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Timelike};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use tributary_engine::EventTime;
use tributary_engine::history::EVENT_TIME_COLUMN;
use tributary_engine::history::manifest::sync_dir;

use super::{HistoryStoreError, ParquetHistoryConfig};

/// The rows of one roll that fall in one event hour.
#[derive(Debug)]
pub(super) struct HourPart {
    /// `YYYY-MM-DD`.
    pub(super) date: String,
    /// 0–23.
    pub(super) hour: u32,
    pub(super) batch: RecordBatch,
    pub(super) min_event_time: EventTime,
    pub(super) max_event_time: EventTime,
}

/// `(date, hour)` of an event time (UTC); out-of-range times fall in 1970-01-01 hour 0.
fn date_hour(ms: EventTime) -> (String, u32) {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => (t.format("%Y-%m-%d").to_string(), t.hour()),
        None => ("1970-01-01".to_string(), 0),
    }
}

/// Splits `batch` by the event date and hour of its `_event_time` column.
pub(super) fn split_by_hour(batch: &RecordBatch) -> Result<Vec<HourPart>, HistoryStoreError> {
    let times = batch
        .column_by_name(EVENT_TIME_COLUMN)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMillisecondArray>())
        .ok_or_else(|| HistoryStoreError::Schema(format!("no {EVENT_TIME_COLUMN} column of TIMESTAMP(ms)")))?;
    // Hours of the same roll are nearly always one or two: group by hour number first.
    let mut groups: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for (i, ms) in times.values().iter().enumerate() {
        let row = u32::try_from(i).map_err(|_| HistoryStoreError::Schema("a roll holds over 2^32 rows".into()))?;
        groups.entry(ms.div_euclid(3_600_000)).or_default().push(row);
    }
    let single = groups.len() == 1;
    let mut parts = Vec::with_capacity(groups.len());
    for (_, rows) in groups {
        let (min, max) = rows.iter().fold((EventTime::MAX, EventTime::MIN), |(lo, hi), r| {
            let t = times.value(*r as usize);
            (lo.min(t), hi.max(t))
        });
        let part = if single {
            batch.clone()
        } else {
            take_record_batch(batch, &UInt32Array::from(rows))?
        };
        let (date, hour) = date_hour(min);
        parts.push(HourPart {
            date,
            hour,
            batch: part,
            min_event_time: min,
            max_event_time: max,
        });
    }
    Ok(parts)
}

/// The path of a history file relative to the history directory.
pub(super) fn relative_path(stream: &str, part: &HourPart, worker: usize, seq: u64) -> PathBuf {
    PathBuf::from(stream)
        .join(format!("date={}", part.date))
        .join(format!("hour={:02}", part.hour))
        .join(format!("part-w{worker}-{seq:06}.parquet"))
}

/// Writes `batch` to `path` atomically and durably; returns the file's size in bytes.
pub(super) fn write_atomically(
    history_dir: &Path,
    path: &Path,
    batch: &RecordBatch,
    config: &ParquetHistoryConfig,
) -> Result<u64, HistoryStoreError> {
    let io = |source| HistoryStoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(history_dir);
    create_dirs_durably(history_dir, dir)?;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(io)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(config.zstd_level)?))
        .set_max_row_group_row_count(Some(config.row_group_rows))
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))?;
    writer.write(batch)?;
    let file = writer.into_inner()?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    sync_dir(dir).map_err(io)?;
    Ok(bytes)
}

/// Creates `dir` (under `root`) and syncs each parent whose entry it added.
fn create_dirs_durably(root: &Path, dir: &Path) -> Result<(), HistoryStoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    let io = |source| HistoryStoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.is_dir() && at != root {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    for created in missing {
        if let Some(parent) = created.parent() {
            sync_dir(parent).map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    #[test]
    fn splits_a_roll_by_event_hour() -> anyhow::Result<()> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new(
                EVENT_TIME_COLUMN,
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
        ]));
        let hour = 3_600_000;
        let t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(TimestampMillisecondArray::from(vec![t0 + hour + 5, t0 + 1, t0 + hour])),
            ],
        )?;
        let parts = split_by_hour(&batch)?;
        let summary: Vec<_> = parts
            .iter()
            .map(|p| (p.date.as_str(), p.hour, p.batch.num_rows(), p.min_event_time - t0))
            .collect();
        assert_eq!(summary, [("2026-01-01", 0, 1, 1), ("2026-01-01", 1, 2, hour)]);
        let path = relative_path("readings", &parts[1], 2, 7);
        assert_eq!(
            path,
            PathBuf::from("readings/date=2026-01-01/hour=01/part-w2-000007.parquet")
        );
        Ok(())
    }
}
