//! A Unigram model for the `tokenizers` pipeline with a compact vocabulary index.
//!
//! `tokenizers`' own Unigram keeps its 250k pieces in a trie with a hash map per
//! node; for XLM-R's vocabulary that is ~290 MB resident, more than the model's
//! weights. This model indexes the same pieces in a `yada` double-array trie (a few
//! MB) and runs the same Viterbi search with the same rules: every vocabulary piece
//! that matches at a position is a candidate with its score, a character no
//! one-character piece covers becomes `<unk>` at the lowest score minus 10, ties
//! keep the first candidate found, consecutive `<unk>`s fuse into one, byte
//! fallback when the vocabulary asks for it. It plugs into `tokenizers` as a
//! [`Model`], so normalisers, pre-tokenisers and added tokens stay the crate's; the
//! tests check its ids against `tokenizers`' Unigram text by text.

use anyhow::{anyhow, bail, ensure, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokenizers::models::unigram::UnigramTrainer;
use tokenizers::{Model, Token};

const UNK_PENALTY: f64 = 10.0;

pub struct CompactUnigram {
    /// Pieces and scores, by id.
    pieces: Vec<(String, f64)>,
    /// Piece bytes -> id (the last id of a piece listed twice, as `tokenizers` does).
    index: yada::DoubleArray<Vec<u8>>,
    unk_id: u32,
    unk_score: f64,
    byte_fallback: bool,
}

#[derive(Clone, Copy)]
struct Best {
    id: u32,
    score: f64,
    start: Option<usize>,
}

impl CompactUnigram {
    pub fn new(pieces: Vec<(String, f64)>, unk_id: usize, byte_fallback: bool) -> Result<Self> {
        ensure!(
            unk_id < pieces.len(),
            "unk id {unk_id} outside the vocabulary"
        );
        ensure!(pieces.len() < 1 << 31, "vocabulary too large");
        let mut keys: Vec<(&[u8], u32)> = pieces
            .iter()
            .enumerate()
            .map(|(id, (p, _))| (p.as_bytes(), id as u32))
            .collect();
        ensure!(
            keys.iter().all(|(k, _)| !k.is_empty() && !k.contains(&0)),
            "the vocabulary has an empty piece or a NUL byte"
        );
        // Stable sort, then keep the last id of each piece.
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let mut unique: Vec<(&[u8], u32)> = Vec::with_capacity(keys.len());
        for k in keys {
            match unique.last_mut() {
                Some(last) if last.0 == k.0 => *last = k,
                _ => unique.push(k),
            }
        }
        let bytes = yada::builder::DoubleArrayBuilder::build(&unique)
            .map_err(|e| anyhow!("building the vocabulary index: {e}"))?;
        let min_score = pieces.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        Ok(Self {
            index: yada::DoubleArray::new(bytes)
                .map_err(|e| anyhow!("reading the vocabulary index: {e}"))?,
            unk_id: unk_id as u32,
            unk_score: min_score - UNK_PENALTY,
            byte_fallback,
            pieces,
        })
    }

    /// The best segmentation of `s` as byte ranges with their ids, `<unk>` runs fused.
    fn segment(&self, s: &str) -> Vec<(usize, usize, u32)> {
        let bytes = s.as_bytes();
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                start: None
            };
            bytes.len() + 1
        ];
        let offer = |best: &mut [Best], end: usize, start: usize, id: u32, score: f64| {
            let b = &mut best[end];
            if b.start.is_none() || score > b.score {
                *b = Best {
                    id,
                    score,
                    start: Some(start),
                };
            }
        };
        // No piece holds a NUL byte and the index cannot take one: searches stop there.
        let next_nul = |from: usize| {
            bytes[from..]
                .iter()
                .position(|&b| b == 0)
                .map_or(bytes.len(), |p| from + p)
        };
        let mut nul = next_nul(0);
        for (start, ch) in s.char_indices() {
            if start > nul {
                nul = next_nul(start);
            }
            let here = best[start].score;
            let char_len = ch.len_utf8();
            let mut single = false;
            for (id, len) in self.index.common_prefix_search(&bytes[start..nul]) {
                offer(
                    &mut best,
                    start + len,
                    start,
                    id,
                    here + self.pieces[id as usize].1,
                );
                single |= len == char_len;
            }
            if !single {
                offer(
                    &mut best,
                    start + char_len,
                    start,
                    self.unk_id,
                    here + self.unk_score,
                );
            }
        }
        let mut out = Vec::new();
        let mut end = bytes.len();
        while end > 0 {
            let b = best[end];
            // Every end reached is a char boundary with a start (each char offers).
            let start = b.start.unwrap_or(0);
            match out.last_mut() {
                Some((s, _, id)) if b.id == self.unk_id && *id == self.unk_id => *s = start,
                _ => out.push((start, end, b.id)),
            }
            end = start;
        }
        out.reverse();
        out
    }
}

impl Model for CompactUnigram {
    type Trainer = UnigramTrainer;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<Token>> {
        let mut tokens = Vec::new();
        for (start, end, id) in self.segment(sequence) {
            let piece = &sequence[start..end];
            // A fused <unk> run (or any string) maps back through the vocabulary.
            let id = if id == self.unk_id {
                self.token_to_id(piece).unwrap_or(self.unk_id)
            } else {
                id
            };
            if id == self.unk_id && self.byte_fallback {
                let bytes: Option<Vec<Token>> = piece
                    .bytes()
                    .map(|b| {
                        let name = format!("<0x{b:02X}>");
                        self.token_to_id(&name)
                            .map(|id| Token::new(id, name, (start, end)))
                    })
                    .collect();
                if let Some(bytes) = bytes {
                    tokens.extend(bytes);
                    continue;
                }
            }
            tokens.push(Token::new(id, piece.to_string(), (start, end)));
        }
        Ok(tokens)
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        if token.is_empty() || token.contains('\0') {
            return None;
        }
        self.index.exact_match_search(token.as_bytes())
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        self.pieces.get(id as usize).map(|p| p.0.clone())
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        self.pieces
            .iter()
            .enumerate()
            .map(|(id, p)| (p.0.clone(), id as u32))
            .collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.pieces.len()
    }

    fn save(&self, _folder: &Path, _prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        Err("concord's compact Unigram is built from tokenizer.json and is not saved".into())
    }

    fn get_trainer(&self) -> UnigramTrainer {
        UnigramTrainer::default()
    }
}

impl CompactUnigram {
    /// The `model` object of a `tokenizer.json` (type `Unigram`).
    pub fn from_json(model: &serde_json::Value) -> Result<Self> {
        if model["type"] != "Unigram" {
            bail!("tokenizer model is {}, not Unigram", model["type"]);
        }
        let vocab = model["vocab"]
            .as_array()
            .ok_or_else(|| anyhow!("Unigram model without a vocab"))?;
        let pieces = vocab
            .iter()
            .map(|e| match (e[0].as_str(), e[1].as_f64()) {
                (Some(p), Some(s)) => Ok((p.to_string(), s)),
                _ => Err(anyhow!("vocab entry {e} is not [piece, score]")),
            })
            .collect::<Result<Vec<_>>>()?;
        let unk = model["unk_id"]
            .as_u64()
            .ok_or_else(|| anyhow!("Unigram model without unk_id"))? as usize;
        let byte_fallback = model["byte_fallback"].as_bool().unwrap_or(false);
        Self::new(pieces, unk, byte_fallback)
    }
}
