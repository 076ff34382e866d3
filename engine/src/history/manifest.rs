//! The history manifest: which files exist, what they hold and which source positions they
//! cover.
//!
//! `DIR/history/_manifest.ndjson` is append-only. Each line is
//! `{"checksum":"<fnv1a-64 hex of the entry's JSON>","entry":{...}}`. One roll of a writer
//! (the files it commits together, one per event hour) is appended with one `write` as its
//! `add` lines followed by a `commit` marker naming how many files the roll has, then
//! `fsync`ed. A file exists for readers only once its `add` line *and the roll's `commit`
//! marker* are in the manifest: a `.tmp` left by a crash, a renamed `.parquet` whose entry
//! never made it, or the first files of a roll whose marker was torn off, are never read.
//!
//! A crash can tear the tail: reading ignores a last line that does not parse or whose
//! checksum does not match, and `add` lines after the last `commit` marker; [`ManifestLog::open`]
//! cuts that tail off before appending again. A bad line *followed* by good ones, or a marker
//! whose count does not match the `add` lines before it, is corruption, not a crash, and is
//! an error.

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

/// One manifest line's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ManifestEntry {
    /// A history file of the roll being committed.
    Add(FileEntry),
    /// The roll whose `files` `add` lines come just before this marker is committed.
    Commit {
        /// How many files the roll has.
        files: usize,
    },
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

/// The committed files of a manifest's text and the byte length of its committed prefix
/// (up to the end of the last `commit` marker).
fn parse(path: &Path, text: &str) -> Result<(Vec<FileEntry>, usize), ManifestError> {
    let mut files = Vec::new();
    // The `add` lines of the roll not yet closed by its marker.
    let mut roll = Vec::new();
    let mut valid_len = 0;
    let mut offset = 0;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let corrupt = |line: usize, reason: String| ManifestError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    for (i, raw) in lines.iter().enumerate() {
        offset += raw.len();
        let is_last = i + 1 == lines.len();
        let complete = raw.ends_with('\n');
        let body = raw.trim_end_matches('\n');
        if body.trim().is_empty() && complete {
            if roll.is_empty() {
                valid_len = offset;
            }
            continue;
        }
        let parsed = if complete {
            parse_line(body)
        } else {
            Err("the line has no end (torn write)".to_string())
        };
        match parsed {
            Ok(ManifestEntry::Add(file)) => roll.push(file),
            Ok(ManifestEntry::Commit { files: n }) => {
                if n != roll.len() {
                    return Err(corrupt(
                        i + 1,
                        format!("commit marker for {n} files after {} add lines", roll.len()),
                    ));
                }
                files.append(&mut roll);
                valid_len = offset;
            }
            // A crash tears at most the last line.
            Err(_) if is_last => break,
            Err(reason) => return Err(corrupt(i + 1, reason)),
        }
    }
    // `roll` now holds a torn roll's first files: not committed.
    Ok((files, valid_len))
}

/// Reads the committed files of the manifest at `path` (none if it does not exist).
pub fn read_manifest(path: &Path) -> Result<Vec<FileEntry>, ManifestError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text).map(|(files, _)| files),
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
    /// Opens (creating) the manifest in `history_dir`, cuts off a torn tail and returns it
    /// with the files already committed.
    pub fn open(history_dir: &Path) -> Result<(Self, Vec<FileEntry>), ManifestError> {
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
            tracing::warn!(manifest = %path.display(), dropped = text.len() - valid_len, "ignoring a torn manifest tail");
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

    /// Appends one roll, `files` and its commit marker, with one write and syncs; the files
    /// are committed once this returns.
    pub fn append(&self, files: &[FileEntry]) -> Result<(), ManifestError> {
        let io = |source| ManifestError::Io {
            path: self.path.clone(),
            source,
        };
        let mut text = Vec::new();
        let marker = ManifestEntry::Commit { files: files.len() };
        for entry in files.iter().cloned().map(ManifestEntry::Add).chain([marker]) {
            let line = Line {
                checksum: checksum(&entry).map_err(|e| io(e.into()))?,
                entry,
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

    fn entry(seq: u64) -> FileEntry {
        FileEntry {
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
        }
    }

    #[test]
    fn appends_and_reads_back() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (log, existing) = ManifestLog::open(dir.path())?;
        assert!(existing.is_empty());
        log.append(&[entry(1), entry(2)])?;
        log.append(&[entry(3)])?;
        assert_eq!(read_manifest(log.path())?, vec![entry(1), entry(2), entry(3)]);
        let text = std::fs::read_to_string(log.path())?;
        assert_eq!(text.lines().filter(|l| l.contains(r#""op":"commit""#)).count(), 2);
        Ok(())
    }

    #[test]
    fn a_roll_without_its_commit_marker_is_not_committed() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (log, _) = ManifestLog::open(dir.path())?;
        log.append(&[entry(1)])?;
        let path = log.path().to_path_buf();
        let committed = std::fs::read_to_string(&path)?;
        log.append(&[entry(2), entry(3)])?;
        drop(log);
        // A crash tore the second roll after its first `add` line: whole lines, good
        // checksums, but no marker.
        let whole = std::fs::read_to_string(&path)?;
        let first_add_of_roll = whole[committed.len()..].lines().next().unwrap_or_default();
        std::fs::write(&path, format!("{committed}{first_add_of_roll}\n"))?;
        assert_eq!(read_manifest(&path)?, vec![entry(1)]);
        // Reopening cuts the unmarked lines, so the next roll is not counted with them.
        let (log, existing) = ManifestLog::open(dir.path())?;
        assert_eq!(existing, vec![entry(1)]);
        assert_eq!(std::fs::read_to_string(&path)?, committed);
        log.append(&[entry(4)])?;
        assert_eq!(read_manifest(&path)?, vec![entry(1), entry(4)]);
        // A marker whose count disagrees with the lines before it is corruption, even with a
        // good checksum.
        let wrong = Line {
            checksum: checksum(&ManifestEntry::Commit { files: 2 })?,
            entry: ManifestEntry::Commit { files: 2 },
        };
        let text = format!("{committed}{first_add_of_roll}\n{}\n", serde_json::to_string(&wrong)?);
        std::fs::write(&path, format!("{text}{committed}"))?;
        let err = read_manifest(&path).unwrap_err();
        assert!(
            err.to_string().contains("commit marker for 2 files after 1 add lines"),
            "{err}"
        );
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
        // Torn: half of a next roll, no newline.
        std::fs::write(&path, format!("{whole}{}", &whole[..whole.len() / 3]))?;
        assert_eq!(read_manifest(&path)?, vec![entry(1), entry(2)]);
        // A complete last line with a wrong checksum is ignored as well.
        let scribbled = whole
            .lines()
            .next()
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
