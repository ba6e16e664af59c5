//! How a model folder says its vectors are made: the pooling and the prompts.
//!
//! A sentence-transformers folder says it in `modules.json` (the module chain),
//! `1_Pooling/config.json` (which pooling) and `config_sentence_transformers.json`
//! (the prompts). A folder without them is pooled by mean, and only an e5 model (a
//! folder or Hub id with `e5` as a word of its name) gets e5's `query: ` / `passage: `.
//! Modules or poolings the encoders do not implement (a `Dense` layer, max pooling,
//! prompts left out of the pooling) are refused at load, never silently skipped.
//! Vectors always leave concord L2-normalised: the collection compares by cosine.

use crate::tokenize::Prefix;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;

pub const MODULES_FILE: &str = "modules.json";
pub const ST_CONFIG_FILE: &str = "config_sentence_transformers.json";

/// Which hidden states make a sequence's vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// The mean over every token, specials included (e5, and the default).
    #[default]
    Mean,
    /// The first token's state (`<s>` / `[CLS]`): bge-m3 dense, for one.
    Cls,
    /// The last token's state (`</s>` / `[SEP]`).
    LastToken,
}

impl Pooling {
    pub fn label(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::LastToken => "last-token",
        }
    }

    /// The weight of each of a sequence's `len` tokens in its pooled state.
    pub fn weight(self, position: usize, len: usize) -> f32 {
        match self {
            Pooling::Mean => 1.0 / len as f32,
            Pooling::Cls => f32::from(position == 0),
            Pooling::LastToken => f32::from(position + 1 == len),
        }
    }
}

/// The texts put before a query and before a passage.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Prompts {
    pub query: String,
    pub passage: String,
}

impl Prompts {
    fn e5() -> Self {
        Self {
            query: "query: ".into(),
            passage: "passage: ".into(),
        }
    }

    pub fn get(&self, prefix: Prefix) -> &str {
        match prefix {
            Prefix::Query => &self.query,
            Prefix::Passage => &self.passage,
            Prefix::None => "",
        }
    }
}

/// A model folder's pooling and prompts, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Profile {
    pub pooling: Pooling,
    pub prompts: Prompts,
    /// `sentence-transformers`, `e5 default` or `default`.
    pub source: &'static str,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode: Option<String>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default = "yes")]
    include_prompt: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
struct StConfig {
    #[serde(default)]
    prompts: std::collections::BTreeMap<String, String>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Whether `dir` is an e5 model: some component of its path (a folder name, or a Hub
/// cache folder such as `models--intfloat--multilingual-e5-base`) has `e5` as a word.
pub fn is_e5(dir: &Path) -> bool {
    dir.components().any(|c| {
        c.as_os_str()
            .to_string_lossy()
            .to_ascii_lowercase()
            .split(|ch: char| !ch.is_ascii_alphanumeric())
            .any(|word| word == "e5")
    })
}

impl Profile {
    /// e5's own: mean pooling, `query: ` / `passage: `.
    pub fn is_e5_default(&self) -> bool {
        self.pooling == Pooling::Mean && self.prompts == Prompts::e5()
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let modules_path = dir.join(MODULES_FILE);
        let mut pooling = Pooling::Mean;
        let mut st = false;
        if modules_path.is_file() {
            st = true;
            let modules: Vec<Module> = read_json(&modules_path)?;
            for m in &modules {
                let kind = m.kind.rsplit('.').next().unwrap_or(&m.kind);
                match kind {
                    "Transformer" | "Normalize" => {}
                    "Pooling" => pooling = read_pooling(&dir.join(&m.path).join("config.json"))?,
                    other => bail!(
                        "{}: module {other:?} is not implemented (concord runs Transformer, \
                         Pooling and Normalize)",
                        modules_path.display()
                    ),
                }
            }
        }
        let st_path = dir.join(ST_CONFIG_FILE);
        let st_config: StConfig = if st_path.is_file() {
            st = true;
            read_json(&st_path)?
        } else {
            StConfig::default()
        };
        let named = |keys: &[&str]| keys.iter().find_map(|k| st_config.prompts.get(*k)).cloned();
        let (query, passage) = (named(&["query"]), named(&["passage", "document"]));
        let (prompts, source) = if query.is_some() || passage.is_some() {
            let prompts = Prompts {
                query: query.unwrap_or_default(),
                passage: passage.unwrap_or_default(),
            };
            (prompts, "sentence-transformers")
        } else if is_e5(dir) {
            (Prompts::e5(), "e5 default")
        } else if st {
            (Prompts::default(), "sentence-transformers")
        } else {
            (Prompts::default(), "default")
        };
        Ok(Self {
            pooling,
            prompts,
            source,
        })
    }
}

fn read_pooling(path: &Path) -> Result<Pooling> {
    let c: PoolingConfig = read_json(path)?;
    let mut modes: Vec<&str> = Vec::new();
    if let Some(mode) = &c.pooling_mode {
        modes.push(mode.as_str());
    }
    for (on, name) in [
        (c.pooling_mode_cls_token, "cls"),
        (c.pooling_mode_mean_tokens, "mean"),
        (c.pooling_mode_max_tokens, "max"),
        (c.pooling_mode_mean_sqrt_len_tokens, "mean_sqrt_len_tokens"),
        (c.pooling_mode_weightedmean_tokens, "weightedmean"),
        (c.pooling_mode_lasttoken, "lasttoken"),
    ] {
        if on && !modes.contains(&name) {
            modes.push(name);
        }
    }
    let pooling = match modes.as_slice() {
        ["mean"] => Pooling::Mean,
        ["cls"] => Pooling::Cls,
        ["lasttoken"] => Pooling::LastToken,
        [] => bail!("{}: no pooling mode is set", path.display()),
        [one] => bail!(
            "{}: pooling {one:?} is not implemented (concord pools by mean, cls or lasttoken)",
            path.display()
        ),
        many => bail!(
            "{}: several pooling modes at once ({}) are not implemented",
            path.display(),
            many.join(", ")
        ),
    };
    if !c.include_prompt {
        bail!(
            "{}: pooling without the prompt's tokens (include_prompt: false) is not implemented",
            path.display()
        );
    }
    Ok(pooling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e5_is_a_word_of_the_name() {
        assert!(is_e5(Path::new("models/multilingual-e5-small")));
        assert!(is_e5(Path::new(
            "/c/hub/models--intfloat--e5-base-v2/snapshots/abc"
        )));
        assert!(!is_e5(Path::new("models/bge-m3")));
        assert!(!is_e5(Path::new("models/some5e5x")));
    }

    #[test]
    fn pooling_weights_pick_the_right_tokens() {
        assert_eq!(Pooling::Cls.weight(0, 4), 1.0);
        assert_eq!(Pooling::Cls.weight(1, 4), 0.0);
        assert_eq!(Pooling::LastToken.weight(3, 4), 1.0);
        assert_eq!(Pooling::LastToken.weight(2, 4), 0.0);
        assert_eq!(Pooling::Mean.weight(2, 4), 0.25);
    }
}
