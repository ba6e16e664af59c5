//! The change log: an append-only file of the changes made since the last commit (of
//! any serde type: the collection's are its article upserts and deletions, see
//! `collection::change`), each synced before the change is acknowledged, and replayed
//! when the collection is opened. It makes a single change durable without rewriting the
//! whole collection; a commit folds the log into a new generation and empties it.
//!
//! One record per line: `{"seq":N,"change":{...}}`, vectors as base64 of little-endian
//! f32, then a tab and the CRC-32C of the JSON bytes in hex. A record is acknowledged only
//! once its whole line, newline included, is synced, so:
//! - a last line without its newline was cut short by a crash and never acknowledged: it
//!   is left out of the replay, and before the next append it is moved to a file of its
//!   own beside the log (`changes.log.torn-*`), never simply cut away;
//! - any complete line that fails its checksum or does not parse is corruption, and so
//!   is a gap in the sequence numbers (a record deleted from the middle): the open fails
//!   with the file and line named.
//!
//! Lines without a checksum (logs written before checksums) are read as plain JSON.

use crate::store;
use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const LOG_FILE: &str = "changes.log";

#[derive(Serialize, Deserialize)]
struct Record<T> {
    seq: u64,
    change: T,
}

/// A damaged line of a log (it starts at [`Scan::valid_len`]) and what is wrong with it.
#[derive(Debug, Clone)]
pub struct Damaged {
    pub line: usize,
    pub reason: String,
}

/// What a log's bytes hold: its records in order (with the offset after each), the
/// length of its valid part, and the first damaged line, if any (nothing after it is
/// read).
pub struct Scan<T> {
    pub records: Vec<(u64, T, usize)>,
    pub valid_len: usize,
    pub damaged: Option<Damaged>,
}

pub fn scan<T: DeserializeOwned>(bytes: &[u8]) -> Scan<T> {
    let mut out = Scan {
        records: Vec::new(),
        valid_len: 0,
        damaged: None,
    };
    let mut line = 0;
    while out.valid_len < bytes.len() {
        line += 1;
        let rest = &bytes[out.valid_len..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            break; // torn tail: the write never completed
        };
        let fail = |reason: String| Damaged { line, reason };
        let r: Record<T> = match store::parse_summed_line(&rest[..nl]) {
            Ok(r) => r,
            Err(e) => {
                out.damaged = Some(fail(format!("damaged change record ({e})")));
                break;
            }
        };
        if let Some(&(prev, _, _)) = out.records.last() {
            if r.seq != prev + 1 {
                out.damaged = Some(fail(format!(
                    "change {} follows change {prev}: records are missing",
                    r.seq
                )));
                break;
            }
        }
        out.valid_len += nl + 1;
        out.records.push((r.seq, r.change, out.valid_len));
    }
    out
}

/// Moves the bytes of the log at `path` from offset `from` on into a file of their own
/// beside it (`changes.log.<kind>-<time>`, synced) and cuts them from the log, so that
/// nothing is lost by cutting. Returns the new file.
pub fn move_apart(path: &Path, from: u64, kind: &str) -> Result<PathBuf> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(from))?;
            f.read_to_end(&mut bytes)
        })
        .with_context(|| format!("reading {}", path.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = path.parent().unwrap_or(Path::new("."));
    let kept = dir.join(format!("{LOG_FILE}.{kind}-{stamp}"));
    std::fs::write(&kept, &bytes)
        .and_then(|_| File::open(&kept)?.sync_all())
        .with_context(|| format!("writing {}", kept.display()))?;
    store::sync_dir(dir)?;
    let f = File::options()
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.set_len(from)
        .and_then(|_| f.sync_data())
        .with_context(|| format!("cutting {}", path.display()))?;
    Ok(kept)
}

/// The log file of one collection folder.
pub struct ChangeLog {
    path: PathBuf,
    /// Bytes of complete, valid records; anything after is a torn tail.
    valid_len: u64,
    /// Bytes after the last complete record (a write a crash cut short).
    torn: u64,
    file: Option<File>,
}

impl ChangeLog {
    /// A handle on the log of `dir` that has read nothing (see [`ChangeLog::read`]).
    pub fn empty(dir: &Path) -> Self {
        Self {
            path: dir.join(LOG_FILE),
            valid_len: 0,
            torn: 0,
            file: None,
        }
    }

    /// Reads the log in `dir` (absent means empty), returning it with its records.
    pub fn read<T: DeserializeOwned>(dir: &Path) -> Result<(Self, Vec<(u64, T)>)> {
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
        let scan = scan(&bytes);
        if let Some(bad) = &scan.damaged {
            bail!(
                "{}:{}: {}; `concord check` reports, `concord repair` keeps the records \
                 before it",
                path.display(),
                bad.line,
                bad.reason
            );
        }
        let valid_len = scan.valid_len;
        let records: Vec<(u64, T)> = scan.records.into_iter().map(|r| (r.0, r.1)).collect();
        let torn = (bytes.len() - valid_len) as u64;
        if torn > 0 {
            tracing::warn!(
                "{}: the last {torn} bytes are a record a crash cut short (never \
                 acknowledged); they are left out, and kept apart at the next change",
                path.display()
            );
        }
        Ok((
            Self {
                path,
                valid_len: valid_len as u64,
                torn,
                file: None,
            },
            records,
        ))
    }

    /// Appends one record and syncs it to disk; only then is the change durable.
    pub fn append<T: Serialize>(&mut self, seq: u64, change: &T) -> Result<()> {
        let line = store::summed_line(&Record { seq, change })?;
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
        // open() moves a torn tail apart before anything is cut.
        let file = self.open()?;
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.sync_data())
            .with_context(|| format!("emptying {}", self.path.display()))?;
        self.valid_len = 0;
        Ok(())
    }

    /// Copies the torn tail to `changes.log.torn-<time>` beside the log, synced, so
    /// cutting it from the log loses nothing.
    pub fn keep_torn_tail(&mut self) -> Result<PathBuf> {
        let kept = move_apart(&self.path, self.valid_len, "torn")?;
        tracing::warn!(
            "{}: the torn tail moved to {}",
            self.path.display(),
            kept.display()
        );
        self.torn = 0;
        Ok(kept)
    }

    fn open(&mut self) -> Result<&mut File> {
        if self.file.is_none() {
            let mut f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&self.path)
                .with_context(|| format!("opening {}", self.path.display()))?;
            // Move a torn tail apart so the next record starts on a line of its own.
            if self.torn > 0 {
                self.keep_torn_tail()?;
            }
            f.set_len(self.valid_len)?;
            f.seek(SeekFrom::End(0))?;
            self.file = Some(f);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Note {
        text: String,
    }

    fn note(t: &str) -> Note {
        Note { text: t.into() }
    }

    #[test]
    fn any_record_type_is_logged_replayed_and_a_torn_tail_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, none) = ChangeLog::read::<Note>(dir.path()).unwrap();
        assert!(none.is_empty());
        log.append(1, &note("one")).unwrap();
        log.append(2, &note("two")).unwrap();
        drop(log);
        // A crash in the middle of a third record leaves a line without its newline.
        let path = dir.path().join(LOG_FILE);
        let mut f = File::options().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":3,\"change\":{\"te").unwrap();
        drop(f);
        let (mut log, records) = ChangeLog::read::<Note>(dir.path()).unwrap();
        assert_eq!(records, [(1, note("one")), (2, note("two"))]);
        // The next append moves the torn tail apart first, losing nothing.
        log.append(3, &note("three")).unwrap();
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".torn-"))
            .collect();
        assert_eq!(kept.len(), 1);
        let (mut log, records) = ChangeLog::read::<Note>(dir.path()).unwrap();
        assert_eq!(records.last(), Some(&(3, note("three"))));
        log.clear().unwrap();
        assert!(ChangeLog::read::<Note>(dir.path()).unwrap().1.is_empty());
        // A gap in the sequence is corruption, named with its line.
        let mut log = ChangeLog::read::<Note>(dir.path()).unwrap().0;
        log.append(1, &note("a")).unwrap();
        log.append(3, &note("c")).unwrap();
        let e = ChangeLog::read::<Note>(dir.path()).err().unwrap();
        assert!(
            format!("{e:#}").contains(":2: change 3 follows change 1"),
            "{e:#}"
        );
    }
}
