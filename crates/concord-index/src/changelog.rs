//! The change log: an append-only file of the article upserts and deletions made since
//! the last commit, each synced before the change is acknowledged, and replayed when the
//! collection is opened. It makes a single change durable without rewriting the whole
//! collection; a commit folds the log into a new generation and empties it.
//!
//! One JSON record per line, `{"seq":N,"change":{...}}`, vectors as base64 of little-endian
//! f32. A line cut short by a crash (no newline, or not parseable at the very end) was
//! never acknowledged: it is ignored on replay and cut off before the next append. A bad
//! line followed by good ones is corruption and fails the open.

use crate::store;
use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use concord_text::Passage;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const LOG_FILE: &str = "changes.log";

/// One logged change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Upsert {
        id: String,
        title: Option<String>,
        source: Option<String>,
        passages: Vec<Passage>,
        /// base64 of the little-endian f32 rows, one per passage.
        vectors: String,
    },
    Remove {
        id: String,
    },
}

impl Change {
    pub fn encode_vectors(v: &[f32]) -> String {
        B64.encode(store::f32_to_le(v))
    }

    pub fn decode_vectors(s: &str) -> Result<Vec<f32>> {
        let bytes = B64.decode(s).context("change log: bad vector encoding")?;
        anyhow::ensure!(bytes.len() % 4 == 0, "change log: truncated vector");
        Ok(store::f32_from_le(&bytes))
    }
}

#[derive(Serialize, Deserialize)]
struct Record {
    seq: u64,
    change: Change,
}

/// The log file of one collection folder.
pub struct ChangeLog {
    path: PathBuf,
    /// Bytes of complete, valid records; anything after is a torn tail.
    valid_len: u64,
    file: Option<File>,
}

impl ChangeLog {
    /// Reads the log in `dir` (absent means empty), returning it with its records.
    pub fn read(dir: &Path) -> Result<(Self, Vec<(u64, Change)>)> {
        let path = dir.join(LOG_FILE);
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)
                    .with_context(|| format!("reading {}", path.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        }
        let mut records = Vec::new();
        let mut valid_len = 0usize;
        let mut rest = &bytes[..];
        let mut line_no = 0;
        while !rest.is_empty() {
            line_no += 1;
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                break; // torn tail: the write never completed
            };
            let line = &rest[..nl];
            match serde_json::from_slice::<Record>(line) {
                Ok(r) => records.push((r.seq, r.change)),
                Err(e) => {
                    if rest[nl + 1..].iter().all(|b| b.is_ascii_whitespace()) {
                        break; // a torn last line
                    }
                    bail!("{}:{line_no}: corrupt change record: {e}", path.display());
                }
            }
            valid_len += nl + 1;
            rest = &rest[nl + 1..];
        }
        Ok((
            Self {
                path,
                valid_len: valid_len as u64,
                file: None,
            },
            records,
        ))
    }

    /// Appends one record and syncs it to disk; only then is the change durable.
    pub fn append(&mut self, seq: u64, change: &Change) -> Result<()> {
        let mut line = serde_json::to_vec(&Record {
            seq,
            change: change.clone(),
        })?;
        line.push(b'\n');
        let valid_len = self.valid_len;
        let file = self.open()?;
        let write = |f: &mut File| -> std::io::Result<()> {
            f.write_all(&line)?;
            f.sync_data()
        };
        if let Err(e) = write(file) {
            // Leave no partial record behind for the next append to follow.
            let _ = file.set_len(valid_len);
            let _ = file.seek(SeekFrom::Start(valid_len));
            return Err(e).with_context(|| format!("appending to {}", self.path.display()));
        }
        self.valid_len += line.len() as u64;
        Ok(())
    }

    /// Empties the log once its changes are part of a committed generation.
    pub fn clear(&mut self) -> Result<()> {
        if self.valid_len == 0 && self.file.is_none() {
            return Ok(());
        }
        let file = self.open()?;
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.sync_data())
            .with_context(|| format!("emptying {}", self.path.display()))?;
        self.valid_len = 0;
        Ok(())
    }

    fn open(&mut self) -> Result<&mut File> {
        if self.file.is_none() {
            let mut f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&self.path)
                .with_context(|| format!("opening {}", self.path.display()))?;
            // Cut a torn tail so the next record starts on a line of its own.
            f.set_len(self.valid_len)?;
            f.seek(SeekFrom::End(0))?;
            self.file = Some(f);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }
}
