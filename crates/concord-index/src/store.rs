//! File primitives for crash-safe commits: whole files written and synced before they
//! are renamed into place, and folders synced so the renames themselves survive a crash.

use anyhow::{Context, Result};
use serde::{de::DeserializeOwned, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Flushes a folder's entries (new names, renames) to disk.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

pub fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", path.display()))
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, so readers see
/// either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Size and CRC-32C of a file's bytes, as the manifest records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FileSum {
    pub bytes: u64,
    pub crc32c: u32,
}

impl FileSum {
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.len() as u64,
            crc32c: crc32c::crc32c(bytes),
        }
    }

    pub fn of_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Self::of(&bytes))
    }
}

/// Writes one JSON value per line, each followed by a tab and the CRC-32C of its JSON
/// bytes in hex, and syncs the file.
pub fn write_jsonl_summed<T: Serialize>(
    path: &Path,
    items: impl IntoIterator<Item = T>,
) -> Result<()> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(f);
    for item in items {
        let json = serde_json::to_vec(&item)?;
        w.write_all(&json)?;
        writeln!(w, "\t{:08x}", crc32c::crc32c(&json))?;
    }
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(())
}

/// Each line of `bytes` (written by [`write_jsonl_summed`], or plain JSON lines): its
/// value, or why it cannot be trusted.
pub fn parse_jsonl_summed<T: DeserializeOwned>(
    bytes: &[u8],
) -> Vec<std::result::Result<T, String>> {
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if text.is_empty() {
        return Vec::new();
    }
    text.split(|&b| b == b'\n')
        .map(|line| {
            let json = match line.iter().rposition(|&b| b == b'\t') {
                Some(tab) => {
                    let want = std::str::from_utf8(&line[tab + 1..])
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .ok_or("unreadable checksum")?;
                    let got = crc32c::crc32c(&line[..tab]);
                    if got != want {
                        return Err(format!("checksum {got:08x}, the line says {want:08x}"));
                    }
                    &line[..tab]
                }
                None => line,
            };
            serde_json::from_slice(json).map_err(|e| e.to_string())
        })
        .collect()
}

/// Raw little-endian f32 rows.
pub fn write_vectors(path: &Path, data: &[f32]) -> Result<()> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    if cfg!(target_endian = "little") {
        f.write_all(bytemuck::cast_slice(data))?;
    } else {
        f.write_all(&f32_to_le(data))?;
    }
    f.sync_all()?;
    Ok(())
}

/// `data` as little-endian bytes.
pub fn f32_to_le(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian f32s from `bytes` (a trailing partial float is ignored).
pub fn f32_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
