//! The dead-letter file sink: one NDJSON file per stream under the data directory.
//!
//! `DIR/<stream>.ndjson` gets one line per rejected record:
//! `{"stream", "position": {"kind", ...}, "kind", "reason", "raw" | "raw_base64",
//! "rejected_at_ms"}` — `raw` when the bytes are UTF-8 (the common case: readable with
//! `jq`), `raw_base64` otherwise, so nothing is lost either way. Lines are appended and
//! flushed per record: dead letters are rare, and a crash must not lose the ones counted.
//! (The history issue moves them to Parquet.)

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use base64::Engine;
use serde::Serialize;
use tributary_engine::source::{DeadLetter, DeadLetterSink, RejectKind, SourcePosition};

/// Appends dead letters to `DIR/<stream>.ndjson` (see the module docs).
#[derive(Debug)]
pub struct NdjsonDeadLetterSink {
    dir: PathBuf,
    files: Mutex<BTreeMap<String, File>>,
}

impl NdjsonDeadLetterSink {
    /// A sink writing under `dir`, created if missing.
    pub fn try_new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            files: Mutex::new(BTreeMap::new()),
        })
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `stream`'s dead letters.
    pub fn path_of(&self, stream: &str) -> PathBuf {
        // Stream names are identifiers, but never let one escape the directory.
        let safe: String = stream
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.ndjson"))
    }
}

#[derive(Serialize)]
struct Line<'a> {
    stream: &'a str,
    position: &'a SourcePosition,
    kind: RejectKind,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
    rejected_at_ms: i64,
}

impl DeadLetterSink for NdjsonDeadLetterSink {
    fn write(&self, letter: &DeadLetter) -> std::io::Result<()> {
        let text = std::str::from_utf8(&letter.raw).ok();
        let line = Line {
            stream: &letter.stream,
            position: &letter.position,
            kind: letter.kind,
            reason: &letter.reason,
            raw: text,
            raw_base64: text
                .is_none()
                .then(|| base64::engine::general_purpose::STANDARD.encode(&letter.raw)),
            rejected_at_ms: letter.rejected_at_ms,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let file = match files.entry(letter.stream.clone()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.path_of(&letter.stream))?,
            ),
        };
        file.write_all(&bytes)?;
        file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_line_per_letter_utf8_or_base64() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let sink = NdjsonDeadLetterSink::try_new(dir.path().join("dlq"))?;
        let position = SourcePosition::Http { request: 0, line: 2 };
        sink.write(&DeadLetter::new(
            "readings",
            position.clone(),
            RejectKind::MalformedJson,
            "bad".into(),
            b"{x",
        ))?;
        sink.write(&DeadLetter::new(
            "readings",
            position,
            RejectKind::InvalidUtf8,
            "utf8".into(),
            b"\xff\xfe",
        ))?;
        sink.write(&DeadLetter::new(
            "../evil",
            SourcePosition::Generator { index: 1 },
            RejectKind::Late,
            "late".into(),
            b"{}",
        ))?;
        let text = std::fs::read_to_string(sink.path_of("readings"))?;
        let lines: Vec<serde_json::Value> = text.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["raw"], "{x");
        assert_eq!(lines[0]["kind"], "malformed_json");
        assert_eq!(lines[0]["position"]["line"], 2);
        assert_eq!(lines[1]["raw_base64"], "//4=");
        assert!(sink.path_of("../evil").starts_with(sink.dir()));
        assert!(sink.path_of("../evil").exists());
        Ok(())
    }
}
