//! Judging arbitrary text pairs (labelled evaluation sets) the way a collection would:
//! each distinct text becomes a one-passage article of a scratch collection (in memory), so every
//! pair is judged against the backgrounds and neighbours of all the other texts.

use crate::engine::OverlapIndex;
use crate::score::Verdict;
use anyhow::{Context, Result};
use concord_embed::{Embedder, Prefix};
use concord_index::{Collection, DocRecord, IndexParams};
use concord_ingest::model_stamp;
use concord_text::Passage;
use std::collections::HashMap;

/// The distinct texts of `pairs` in first-seen order, and each pair as two indices
/// into them.
pub fn distinct_texts<'a>(pairs: &[(&'a str, &'a str)]) -> (Vec<&'a str>, Vec<(usize, usize)>) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut texts = Vec::new();
    let mut id = |t: &'a str| {
        *index.entry(t).or_insert_with(|| {
            texts.push(t);
            texts.len() - 1
        })
    };
    let ids = pairs.iter().map(|(a, b)| (id(a), id(b))).collect();
    (texts, ids)
}

/// The verdict on each pair. Pairs of identical texts are judged as one passage
/// against itself would be meaningless, so callers should leave them out.
pub fn judge_text_pairs(
    embedder: &Embedder,
    pairs: &[(&str, &str)],
    names: Option<std::sync::Arc<concord_text::names::NameBridge>>,
) -> Result<Vec<Verdict>> {
    let (texts, ids) = distinct_texts(pairs);
    let vectors = embedder.embed(&texts, Prefix::Passage)?;
    let mut c = Collection::in_memory(&model_stamp(embedder)?, IndexParams::default());
    let mut slot_of = Vec::with_capacity(texts.len());
    for (i, (t, v)) in texts.iter().zip(&vectors).enumerate() {
        let passage = Passage {
            index: 0,
            start: 0,
            end: t.chars().count() as u32,
            text: t.to_string(),
            section: None,
            paragraph: None,
        };
        let id = format!("t{i}");
        let doc = DocRecord {
            id: id.clone(),
            title: None,
            source: None,
            meta: Default::default(),
            slots: Vec::new(),
        };
        c.upsert(doc, vec![passage], v)?;
        slot_of.push(c.doc(&id).context("article just added")?.slots[0]);
    }
    let ix = OverlapIndex::new(&c, names);
    Ok(ids
        .into_iter()
        .map(|(a, b)| ix.judge_pair(slot_of[a], slot_of[b]))
        .collect())
}
