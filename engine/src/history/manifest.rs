//! The history manifest: which files exist, what they hold and which source positions they
//! cover.
//!
//! `DIR/history/_manifest.ndjson` is append-only. Each line is
//! `{"checksum":"<fnv1a-64 hex of the entry's JSON>","entry":{...}}`, appended with one
//! `write` and `fsync`ed before the files it names count as committed. A file exists for
//! readers only once its `add` entry is in the manifest: a `.tmp` left by a crash, or a
//! renamed `.parquet` whose entry never made it, is never read.
//!
//! A crash can tear the last line; reading ignores a last line that does not parse or whose
//! checksum does not match, and [`ManifestLog::open`] cuts it off before appending again. A
//! bad line *followed* by good ones is corruption, not a crash, and is an error.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::source::SourceCheckpoint;
use crate::time::{Epoch, EventTime};

/// The manifest's file name inside the history directory.
pub const MANIFEST_FILE: &str = "_manifest.ndjson";

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ManifestEntry {
    /// A committed history file.
    Add(FileEntry),
}

/// A committed history file and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the history directory, e.g.
    /// `readings/date=2026-01-01/hour=00/part-w0-000001.parquet`.
    pub file: String,
    /// The stream.
    pub stream: String,
    /// The worker that accepted its records.
    pub worker: usize,
    /// The writer's file sequence number (per stream and worker).
    pub seq: u64,
    /// Event date partition, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Event hour partition, 0–23 (UTC).
    pub hour: u32,
    /// Number of records.
    pub rows: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Smallest event time in the file (ms).
    pub min_event_time: EventTime,
    /// Greatest event time in the file (ms).
    pub max_event_time: EventTime,
    /// First epoch the file's roll covers.
    pub epoch_lo: Epoch,
    /// First epoch after it (`[epoch_lo, epoch_hi)`).
    pub epoch_hi: Epoch,
    /// The reader's resume position as of epoch `epoch_hi − 1`.
    pub checkpoint: Option<SourceCheckpoint>,
}

/// What can go wrong with the manifest.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// Reading, writing or syncing it failed.
    #[error("manifest {path}: {source}")]
    Io {
        /// The manifest.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line before the last one is not a valid entry.
    #[error("manifest {path}: line {line} is corrupt: {reason}")]
    Corrupt {
        /// The manifest.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Why it was refused.
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Line {
    checksum: String,
    entry: ManifestEntry,
}

/// FNV-1a, 64 bit: enough to tell a torn or scribbled line from a whole one.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn checksum(entry: &ManifestEntry) -> Result<String, serde_json::Error> {
    Ok(format!("{:016x}", fnv1a64(&serde_json::to_vec(entry)?)))
}

/// Parses one line; `Err` says why it is not a valid entry.
fn parse_line(text: &str) -> Result<ManifestEntry, String> {
    let line: Line = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let expected = checksum(&line.entry).map_err(|e| e.to_string())?;
    if expected != line.checksum {
        return Err(format!("checksum {} does not match {expected}", line.checksum));
    }
    Ok(line.entry)
}

/// The valid entries of a manifest's text and the byte length of the valid prefix.
fn parse(path: &Path, text: &str) -> Result<(Vec<ManifestEntry>, usize), ManifestError> {
    let mut entries = Vec::new();
    let mut valid_len = 0;
    let mut offset = 0;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        offset += raw.len();
        let is_last = i + 1 == lines.len();
        let complete = raw.ends_with('\n');
        let body = raw.trim_end_matches('\n');
        if body.trim().is_empty() && complete {
            valid_len = offset;
            continue;
        }
        let parsed = if complete {
            parse_line(body)
        } else {
            Err("the line has no end (torn write)".to_string())
        };
        match parsed {
            Ok(entry) => {
                entries.push(entry);
                valid_len = offset;
            }
            // A crash tears at most the last line.
            Err(_) if is_last => break,
            Err(reason) => {
                return Err(ManifestError::Corrupt {
                    path: path.to_path_buf(),
                    line: i + 1,
                    reason,
                });
            }
        }
    }
    Ok((entries, valid_len))
}

/// Reads the committed entries of the manifest at `path` (none if it does not exist).
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestEntry>, ManifestError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text).map(|(entries, _)| entries),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(ManifestError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The manifest opened for appending, shared by every writer of one history directory.
#[derive(Debug)]
pub struct ManifestLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl ManifestLog {
    /// Opens (creating) the manifest in `history_dir`, cuts off a torn last line and returns
    /// it with the entries already committed.
    pub fn open(history_dir: &Path) -> Result<(Self, Vec<ManifestEntry>), ManifestError> {
        let path = history_dir.join(MANIFEST_FILE);
        let io = |source| ManifestError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(history_dir).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let (entries, valid_len) = parse(&path, &text)?;
        if valid_len < text.len() {
            tracing::warn!(manifest = %path.display(), dropped = text.len() - valid_len, "ignoring a torn last manifest line");
            file.set_len(valid_len as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        sync_dir(history_dir).map_err(io)?;
        Ok((
            Self {
                path,
                file: Mutex::new(file),
            },
            entries,
        ))
    }

    /// The manifest's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entries` with one write and syncs; they are committed once this returns.
    pub fn append(&self, entries: &[ManifestEntry]) -> Result<(), ManifestError> {
        let io = |source| ManifestError::Io {
            path: self.path.clone(),
            source,
        };
        let mut text = Vec::new();
        for entry in entries {
            let line = Line {
                checksum: checksum(entry).map_err(|e| io(e.into()))?,
                entry: entry.clone(),
            };
            serde_json::to_writer(&mut text, &line).map_err(|e| io(e.into()))?;
            text.push(b'\n');
        }
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(&text).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

/// `fsync`s a directory so a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> ManifestEntry {
        ManifestEntry::Add(FileEntry {
            file: format!("s/date=2026-01-01/hour=00/part-w0-{seq:06}.parquet"),
            stream: "s".into(),
            worker: 0,
            seq,
            date: "2026-01-01".into(),
            hour: 0,
            rows: 10,
            bytes: 100,
            min_event_time: 1,
            max_event_time: 2,
            epoch_lo: seq,
            epoch_hi: seq + 1,
            checkpoint: Some(SourceCheckpoint::Sequence { next: seq * 10 }),
        })
    }

    #[test]
    fn appends_and_reads_back() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (log, existing) = ManifestLog::open(dir.path())?;
        assert!(existing.is_empty());
        log.append(&[entry(1), entry(2)])?;
        log.append(&[entry(3)])?;
        assert_eq!(read_manifest(log.path())?, vec![entry(1), entry(2), entry(3)]);
        Ok(())
    }

    #[test]
    fn a_torn_or_corrupt_last_line_is_ignored_and_cut_before_appending() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (log, _) = ManifestLog::open(dir.path())?;
        log.append(&[entry(1), entry(2)])?;
        let path = log.path().to_path_buf();
        drop(log);
        let whole = std::fs::read_to_string(&path)?;
        // Torn: half of a third line, no newline.
        std::fs::write(&path, format!("{whole}{}", &whole[..whole.len() / 3]))?;
        assert_eq!(read_manifest(&path)?, vec![entry(1), entry(2)]);
        // A complete last line with a wrong checksum is ignored as well.
        let scribbled = whole
            .lines()
            .last()
            .unwrap_or_default()
            .replace("\"rows\":10", "\"rows\":11");
        std::fs::write(&path, format!("{whole}{scribbled}\n"))?;
        assert_eq!(read_manifest(&path)?, vec![entry(1), entry(2)]);
        // Reopening cuts the bad line, so the next append starts on a line of its own.
        let (log, existing) = ManifestLog::open(dir.path())?;
        assert_eq!(existing, vec![entry(1), entry(2)]);
        log.append(&[entry(3)])?;
        assert_eq!(read_manifest(&path)?, vec![entry(1), entry(2), entry(3)]);
        Ok(())
    }

    #[test]
    fn a_bad_line_before_good_ones_is_corruption() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (log, _) = ManifestLog::open(dir.path())?;
        log.append(&[entry(1), entry(2)])?;
        let path = log.path().to_path_buf();
        let text = std::fs::read_to_string(&path)?.replacen("\"rows\":10", "\"rows\":12", 1);
        std::fs::write(&path, text)?;
        let err = read_manifest(&path).unwrap_err();
        assert!(matches!(err, ManifestError::Corrupt { line: 1, .. }), "{err}");
        assert!(ManifestLog::open(dir.path()).is_err());
        // A missing manifest is an empty history.
        assert!(read_manifest(&dir.path().join("nope.ndjson"))?.is_empty());
        Ok(())
    }
}
