//! The one interface ingestion and serving embed through: [`Embed`], which the
//! [`Embedder`] implements directly and concord-infer's batcher implements by queueing,
//! and the model's [`Fingerprint`], which a collection records so that vectors of
//! another model are never mixed into it.

use crate::{Embedder, Embedding, Prefix};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Turns texts into embeddings, one per text, in input order.
pub trait Embed: Send + Sync {
    fn embed_texts(&self, texts: &[&str], prefix: Prefix) -> Result<Vec<Embedding>>;

    /// What identifies the model behind it.
    fn fingerprint(&self) -> Result<Fingerprint>;
}

/// Identifies a model: its folder name, dimension and a hash of its configuration,
/// vocabulary, weight checksums, weight format and (when not e5's) pooling and prompts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub name: String,
    pub dim: usize,
    pub hash: String,
}

impl Embed for Embedder {
    fn embed_texts(&self, texts: &[&str], prefix: Prefix) -> Result<Vec<Embedding>> {
        self.embed_detailed(texts, prefix, crate::DEFAULT_BATCH_TOKENS, &mut |_| {})
    }

    fn fingerprint(&self) -> Result<Fingerprint> {
        Embedder::fingerprint(self)
    }
}

impl Embedder {
    /// The model's [`Fingerprint`].
    pub fn fingerprint(&self) -> Result<Fingerprint> {
        let dir = self.model_dir();
        let mut h = Sha256::new();
        for name in [crate::config::CONFIG_FILE, crate::config::TOKENIZER_FILE] {
            let path = dir.join(name);
            h.update(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
        }
        match crate::source::import::Manifest::load(dir) {
            Ok(m) => {
                for (name, sha) in &m.files {
                    h.update(name.as_bytes());
                    h.update(sha.as_bytes());
                }
            }
            // A Hub snapshot folder is named after its commit, which pins the weights.
            Err(_) => h.update(dir.display().to_string().as_bytes()),
        }
        h.update(format!("{:?}", self.weights_format()).as_bytes());
        // Pooling and prompts change the vectors too. e5's own hash as nothing, so
        // collections stamped before the profile was read keep their fingerprint.
        let profile = self.profile();
        if !profile.is_e5_default() {
            h.update(serde_json::to_string(profile)?.as_bytes());
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Fingerprint {
            name,
            dim: self.dim(),
            hash: hex::encode(h.finalize()),
        })
    }
}
