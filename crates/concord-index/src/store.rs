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

/// One checksummed line: JSON bytes, a tab and their CRC-32C in hex, a newline (the
/// format of `docs.jsonl` and `changes.log`; serde_json escapes tabs inside strings, so
/// the last tab of a line is always the separator).
pub fn summed_line<T: Serialize>(item: &T) -> Result<Vec<u8>> {
    let mut line = serde_json::to_vec(item)?;
    let crc = crc32c::crc32c(&line);
    line.extend_from_slice(format!("\t{crc:08x}\n").as_bytes());
    Ok(line)
}

/// The value of one line (without its newline) written by [`summed_line`], or why it
/// cannot be trusted. A line without a tab was written before checksums and is read as
/// plain JSON.
pub fn parse_summed_line<T: DeserializeOwned>(line: &[u8]) -> std::result::Result<T, String> {
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
}

/// Writes one [`summed_line`] per item and syncs the file; returns the sum of what it
/// wrote.
pub fn write_jsonl_summed<T: Serialize>(
    path: &Path,
    items: impl IntoIterator<Item = T>,
) -> Result<FileSum> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(f);
    let (mut bytes, mut crc) = (0u64, 0u32);
    for item in items {
        let line = summed_line(&item)?;
        w.write_all(&line)?;
        bytes += line.len() as u64;
        crc = crc32c::crc32c_append(crc, &line);
    }
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(FileSum { bytes, crc32c: crc })
}

/// Each line of `bytes` (see [`parse_summed_line`]).
pub fn parse_jsonl_summed<T: DeserializeOwned>(
    bytes: &[u8],
) -> Vec<std::result::Result<T, String>> {
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if text.is_empty() {
        return Vec::new();
    }
    text.split(|&b| b == b'\n').map(parse_summed_line).collect()
}

/// Raw little-endian f32 rows; returns the sum of what it wrote.
pub fn write_vectors(path: &Path, data: &[f32]) -> Result<FileSum> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let le;
    let bytes: &[u8] = if cfg!(target_endian = "little") {
        bytemuck::cast_slice(data)
    } else {
        le = f32_to_le(data);
        &le
    };
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(FileSum::of(bytes))
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
