//! The audit log: one entry per ingest or admin call — who, what, when, outcome — kept
//! durably in an NDJSON file under the data directory and readable as `system.audit`.
//!
//! Entries are appended to the file as they happen (one `write` per line, so a crash loses
//! at most the line being written; the OS decides when it reaches the disk) and the most
//! recent ones are kept in memory for SQL. Opening an existing file reads its last entries
//! back, so `system.audit` shows what happened before a restart too.
//!
//! An entry never holds a token or a request body: the caller is named by the token's
//! subject, the call by method and path (without the query string).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When the call was answered, ms since the Unix epoch.
    pub at_ms: i64,
    /// The caller: `sub` of its token, `anonymous` in unauthenticated mode, or
    /// `unauthenticated` when its token was refused.
    pub who: String,
    /// The peer IP address, if known.
    pub client: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request path, without the query string.
    pub path: String,
    /// HTTP status answered.
    pub status: u16,
    /// `ok`, `unauthorized`, `forbidden`, `rate_limited`, `rejected` (other 4xx) or
    /// `failed` (5xx).
    pub outcome: String,
}

impl AuditEntry {
    /// The outcome word for an HTTP status.
    pub fn outcome_of(status: u16) -> &'static str {
        match status {
            200..=399 => "ok",
            401 => "unauthorized",
            403 => "forbidden",
            429 => "rate_limited",
            400..=499 => "rejected",
            _ => "failed",
        }
    }
}

/// Why the audit file could not be opened.
#[derive(Debug, Error)]
pub enum AuditError {
    /// Creating the directory, opening or reading the file failed.
    #[error("cannot open the audit log {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The audit log (see the module docs).
#[derive(Debug)]
pub struct AuditLog {
    recent: Mutex<VecDeque<AuditEntry>>,
    capacity: usize,
    file: Option<(PathBuf, Mutex<File>)>,
}

impl Default for AuditLog {
    /// In memory only, [`AuditLog::DEFAULT_RECENT_CAPACITY`] entries.
    fn default() -> Self {
        Self::in_memory(Self::DEFAULT_RECENT_CAPACITY)
    }
}

impl AuditLog {
    /// Entries kept in memory for `system.audit` by default.
    pub const DEFAULT_RECENT_CAPACITY: usize = 10_000;
    /// The file name under the data directory.
    pub const FILE_NAME: &'static str = "audit.ndjson";

    /// A log kept in memory only (tests, tools without a data directory).
    pub fn in_memory(capacity: usize) -> Self {
        Self {
            recent: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            file: None,
        }
    }

    /// A log appending to `dir/audit.ndjson` (created with `dir` if missing), with the
    /// file's last `capacity` entries read back.
    pub fn open(dir: &Path, capacity: usize) -> Result<Self, AuditError> {
        let path = dir.join(Self::FILE_NAME);
        let error = |source| AuditError::Open {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(error)?;
        let capacity = capacity.max(1);
        let mut recent = VecDeque::new();
        let mut ends_with_newline = true;
        if path.exists() {
            let mut reader = BufReader::new(File::open(&path).map_err(error)?);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).map_err(error)? > 0 {
                ends_with_newline = line.last() == Some(&b'\n');
                // A line cut short by a crash is skipped rather than failing the start.
                if let Ok(entry) = serde_json::from_slice::<AuditEntry>(&line) {
                    if recent.len() == capacity {
                        recent.pop_front();
                    }
                    recent.push_back(entry);
                }
                line.clear();
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(error)?;
        if !ends_with_newline {
            // End the cut-short line so the next entry starts on a line of its own.
            file.write_all(b"\n").map_err(error)?;
        }
        Ok(Self {
            recent: Mutex::new(recent),
            capacity,
            file: Some((path, Mutex::new(file))),
        })
    }

    /// The file entries are appended to, if any.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    /// Records one entry: appended to the file, kept in memory. A failed write is logged;
    /// the call it records has already been answered.
    pub fn record(&self, entry: AuditEntry) {
        if let Some((path, file)) = &self.file {
            match serde_json::to_vec(&entry) {
                Ok(mut line) => {
                    line.push(b'\n');
                    let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Err(error) = file.write_all(&line) {
                        tracing::error!(path = %path.display(), %error, "cannot append to the audit log");
                    }
                }
                Err(error) => tracing::error!(%error, "cannot encode an audit entry"),
            }
        }
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == self.capacity {
            recent.pop_front();
        }
        recent.push_back(entry);
    }

    /// The most recent entries, oldest first.
    pub fn recent(&self) -> Vec<AuditEntry> {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> AuditEntry {
        AuditEntry {
            at_ms: n,
            who: "alice".into(),
            client: Some("127.0.0.1".into()),
            method: "POST".into(),
            path: "/v1/ingest/readings".into(),
            status: 200,
            outcome: AuditEntry::outcome_of(200).into(),
        }
    }

    #[test]
    fn entries_survive_a_reopen_and_memory_keeps_the_latest() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("tributary-audit-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let log = AuditLog::open(&dir, 2)?;
            for n in 0..3 {
                log.record(entry(n));
            }
            assert_eq!(log.recent().iter().map(|e| e.at_ms).collect::<Vec<_>>(), [1, 2]);
        }
        let text = std::fs::read_to_string(dir.join(AuditLog::FILE_NAME))?;
        assert_eq!(text.lines().count(), 3);
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(AuditLog::FILE_NAME))?
            .write_all(b"{\"cut short")?;
        let reopened = AuditLog::open(&dir, 10)?;
        assert_eq!(reopened.recent(), vec![entry(0), entry(1), entry(2)]);
        reopened.record(entry(3));
        drop(reopened);
        let again = AuditLog::open(&dir, 10)?;
        assert_eq!(again.recent().last(), Some(&entry(3)));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn outcomes_name_the_status_class() {
        let outcomes: Vec<&str> = [200, 401, 403, 429, 413, 503].map(AuditEntry::outcome_of).to_vec();
        assert_eq!(
            outcomes,
            ["ok", "unauthorized", "forbidden", "rate_limited", "rejected", "failed"]
        );
    }
}
