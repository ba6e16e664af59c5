//! Overlap queries over a collection: for a passage or a free text, the passages of
//! other articles that duplicate, overlap or agree with it; every such pair in the
//! collection; two articles aligned passage by passage; and the article pairs that share
//! the most.
//!
//! Passages are claims (sentences or clauses, see `concord_text::segment`); each side of
//! a reported pair also carries its paragraph as context.
//!
//! Candidates come from two retrievers, merged: the HNSW index (the `k` nearest passages
//! of other articles) and the lexical postings of rare grams (passages of other articles
//! sharing at least [`LEXICAL_MIN_SHARED`] rare character bigrams, numbers or names), so
//! a shared figure, name or quote is a candidate however far apart the embeddings are.
//! Each candidate is then judged by [`crate::score::judge`]. Among the collection's
//! pairs, an `agree` or `conflict` pair is kept only where each side is the other's
//! strongest such pair in its article (a claim restates or disputes one claim of another
//! article, not every claim there on the subject).
//!
//! A free text that is a verbatim span of an ingested paragraph (six CJK characters or
//! three words and up, in either script) finds that paragraph's passages directly, on
//! folded text, as `duplicate` (the whole passage) or `overlap` (part of it), with the
//! span's offsets. The semantic signal is a z-score:
//! the cosine measured against each passage's background, the mean and spread of its
//! cosines to a fixed sample of other articles' passages, so a topical corpus where
//! every cosine is high does not make everything agree.
//!
//! Backgrounds and nearest neighbours are kept per script group (Chinese and other):
//! e5 puts unrelated passages of one language closer together (about 0.83 for Chinese)
//! than a passage and its translation sits to unrelated passages of the other language
//! (about 0.73), so a cross-language pair is measured against the other language's
//! background and neighbours, not its own. Each group has its own in-memory HNSW graph
//! for those neighbours: in the collection's one graph, a search filtered to the other
//! language walks through most passages of the query's own language before it reaches
//! any (at 10k passages that made deriving neighbourhoods ten times slower than
//! judging every pair).
//!
//! What is derived per passage (features, background, nearest cosines) lives in
//! [`Neighbourhoods`], which a long-running process keeps and refreshes after changes.
//! Up to `EXACT_REFRESH_MAX` (10,000) live passages, a refresh derives everything again, so a
//! server answers exactly as a fresh `concord overlaps` does (a test compares them).
//! Above that, a refresh derives the new passages and drops removed ones, leaving the
//! older passages' backgrounds and neighbours as they were (a new article's passages are
//! missing from them, so a pair can differ from a fresh build's until the next full
//! pass); everything is derived again once the collection has grown or shrunk by a
//! quarter since the last full pass, or its slots were renumbered.
//!
//! The module's parts: `neighbourhoods` (what is derived per passage and refreshed
//! after changes), `index` (the query index and how it judges one candidate pair),
//! `queries` (the queries themselves) and `align` (pairing two articles' passages one
//! to one, and article pair summaries).

mod align;
mod index;
mod neighbourhoods;
mod queries;
#[cfg(test)]
mod tests;

pub use align::{align_pairs, align_partition, summarize};
pub use index::OverlapIndex;
pub use neighbourhoods::Neighbourhoods;

use crate::score::Label;
use serde::Serialize;

/// Passages sampled from other articles to estimate a passage's background.
const BACKGROUND_SAMPLE: usize = 256;
/// With fewer samples than this the estimate leans on the prior below.
const BACKGROUND_PRIOR_WEIGHT: f32 = 16.0;
/// Background of multilingual-e5-small for unrelated passages of one language ...
const PRIOR_MEAN: f32 = 0.80;
const PRIOR_STD: f32 = 0.035;
/// ... and of two languages (Chinese and English sentences of ../shared/eval: 0.726,
/// spread 0.032).
const PRIOR_CROSS_MEAN: f32 = 0.73;
/// Script groups: passages mostly in Chinese characters, and the rest.
const GROUPS: usize = 2;
/// Smallest spread used, so a near-constant background cannot inflate z-scores.
const MIN_STD: f32 = 0.015;
/// Nearest other-article passages whose mean similarity is a passage's margin base.
const KNN: usize = 4;
/// Rank within which two passages count as mutual nearest neighbours.
const MUTUAL_RANK: usize = 2;
/// Build beam of the per-group graphs: they only give the few nearest cosines of each
/// passage. Against the collection's beam (200) this derived neighbourhoods 1.8x
/// faster at 20k passages, and changed 17 of 176,891 judged pairs (benches/RESULTS.md).
const GROUP_EF_CONSTRUCTION: usize = 64;

/// Passages of other articles sharing at least this many rare grams are candidates.
const LEXICAL_MIN_SHARED: usize = 3;
/// Lexical candidates kept per passage (those sharing the most rare grams).
const LEXICAL_CANDIDATES: usize = 16;
/// A gram is rare enough to retrieve by when at most this share of passages hold it,
/// and at most [`LEXICAL_RARE_MAX`] of them (so the postings walked per passage stay
/// bounded however large the collection).
const LEXICAL_RARE_SHARE: f32 = 0.01;
const LEXICAL_RARE_MAX: u32 = 64;
/// Shortest verbatim quote looked up on folded text: CJK characters, or Latin words.
const QUOTE_MIN_CJK: usize = 6;
const QUOTE_MIN_WORDS: usize = 3;
/// Articles whose notices a notice is compared with: the ones nearest its own as a
/// whole (cosine of the articles' mean vectors), this many per script group.
const RELATED_ARTICLES: usize = 4;
/// Notices taken from each related article: the closest to the notice.
const RELATED_NOTICES: usize = 3;

/// Query options.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Weakest label reported.
    pub min_label: Label,
    /// Candidates drawn from the index per passage.
    pub candidates: usize,
    /// Also report `boilerplate` pairs (apart from findings; below every `min_label`).
    pub boilerplate: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            min_label: Label::Agree,
            candidates: 24,
            boilerplate: false,
        }
    }
}

impl QueryOptions {
    fn keeps(&self, label: Label) -> bool {
        label >= self.min_label || (self.boilerplate && label == Label::Boilerplate)
    }
}

/// One side of a reported pair: a claim, and the paragraph it sits in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassageRef {
    pub doc: String,
    /// The article's title, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The article's outlet, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlet: Option<String>,
    /// When the article was published, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    pub passage: String,
    /// Character offsets of the claim in the article.
    pub start: u32,
    pub end: u32,
    pub text: String,
    /// Position of the paragraph among the article's paragraphs.
    pub paragraph: u32,
    /// Character offset of the paragraph in the article, and its text (the claim is
    /// `context[start - context_start .. end - context_start]`).
    pub context_start: u32,
    pub context: String,
}

/// A judged pair of passages from different articles.
#[derive(Debug, Clone, Serialize)]
pub struct PairMatch {
    pub a: PassageRef,
    pub b: PassageRef,
    pub label: Label,
    pub score: f32,
    pub evidence: crate::score::Evidence,
}

/// What two articles share.
#[derive(Debug, Clone, Serialize)]
pub struct ArticlePair {
    pub a: String,
    pub b: String,
    /// Sum of pair scores weighted by label (duplicate 1, overlap 1, agree and conflict
    /// 0.5; boilerplate 0).
    pub shared: f32,
    pub duplicate: usize,
    pub overlap: usize,
    pub agree: usize,
    pub conflict: usize,
}

/// Articles up to this many passages are searched whole to rank a pair within them.
const RANK_MAX_PASSAGES: usize = 1024;

/// The signals of a pair that come from its two articles (see [`Semantic`]).
#[derive(Debug, Clone, Copy)]
struct ArticleSignals {
    affinity: f32,
    best: u8,
    gap: f32,
    /// Cosine of the two passages once each has its article's mean vector taken away.
    residual: f32,
}
