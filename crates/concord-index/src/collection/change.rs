//! What a collection logs: one article upserted (with its passages and vectors) or
//! removed, a record of the change log.

use crate::store;
use anyhow::{Context, Result};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use concord_text::Passage;
use serde::{Deserialize, Serialize};

/// One logged change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Upsert {
        id: String,
        title: Option<String>,
        source: Option<String>,
        /// Boxed: most articles have none, and the enum stays small.
        #[serde(default, skip_serializing_if = "is_empty_meta")]
        meta: Box<concord_text::ArticleMeta>,
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

fn is_empty_meta(meta: &concord_text::ArticleMeta) -> bool {
    meta.is_empty()
}
