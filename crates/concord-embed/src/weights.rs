//! Loads a model directory's weights into candle tensors, from either file form.
//!
//! `model.q4_0.gguf` (written by `concord model import`) keeps the word table in
//! `Q4_0`; `model.safetensors` (what the Hub serves) is full precision and its word
//! table is quantised to `Q8_0` on load. Both end as the same [`EncoderWeights`]:
//! dense linear layers in the compute dtype and a quantised word table from which
//! only looked-up rows are ever dequantised (the 250k x 384 table is ~96M of the
//! model's ~118M parameters).

use crate::config::{BertConfig, GGUF_FILE, SAFETENSORS_FILE};
use anyhow::{bail, ensure, Context, Result};
use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use std::path::Path;

/// Which file the weights were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFormat {
    Gguf,
    Safetensors,
}

pub struct LayerWeights {
    /// Query, key and value projections stacked: `[3H, H]` and `[3H]`.
    pub qkv_w: Tensor,
    pub qkv_b: Tensor,
    pub attn_out_w: Tensor,
    pub attn_out_b: Tensor,
    pub attn_ln_w: Tensor,
    pub attn_ln_b: Tensor,
    pub up_w: Tensor,
    pub up_b: Tensor,
    pub down_w: Tensor,
    pub down_b: Tensor,
    pub out_ln_w: Tensor,
    pub out_ln_b: Tensor,
}

pub struct EncoderWeights {
    pub word: QTensor,
    pub position: Tensor,
    /// Token-type row 0 (concord never uses another), `[H]`.
    pub token_type0: Tensor,
    pub emb_ln_w: Tensor,
    pub emb_ln_b: Tensor,
    pub layers: Vec<LayerWeights>,
    pub format: WeightsFormat,
}

/// Where a checkpoint keeps the encoder's tensors.
const ENCODER_PREFIXES: [&str; 3] = ["", "bert.", "roberta."];

enum Source {
    Gguf {
        content: gguf_file::Content,
        file: std::fs::File,
    },
    Safetensors(candle_core::safetensors::MmapedSafetensors),
}

impl Source {
    fn dense(&mut self, name: &str, device: &Device, dtype: DType) -> Result<Tensor> {
        let t = match self {
            Source::Gguf { content, file } => content
                .tensor(file, name, &Device::Cpu)
                .with_context(|| format!("reading tensor {name}"))?
                .dequantize(&Device::Cpu)?,
            Source::Safetensors(st) => st
                .load(name, &Device::Cpu)
                .with_context(|| format!("reading tensor {name}"))?,
        };
        Ok(t.to_dtype(dtype)?.to_device(device)?)
    }

    fn word_table(&mut self, name: &str, device: &Device) -> Result<QTensor> {
        let q = match self {
            Source::Gguf { content, file } => content
                .tensor(file, name, &Device::Cpu)
                .with_context(|| format!("reading tensor {name}"))?,
            Source::Safetensors(st) => {
                let t = st.load(name, &Device::Cpu)?.to_dtype(DType::F32)?;
                QTensor::quantize(&t, GgmlDType::Q8_0)?
            }
        };
        if device.is_cpu() {
            return Ok(q);
        }
        let data = q.data()?;
        let storage = candle_core::quantized::QStorage::from_data(data, device, q.dtype())?;
        Ok(QTensor::new(storage, q.shape().clone())?)
    }
}

impl EncoderWeights {
    pub fn load(dir: &Path, cfg: &BertConfig, device: &Device, dtype: DType) -> Result<Self> {
        let gguf = dir.join(GGUF_FILE);
        let st_path = dir.join(SAFETENSORS_FILE);
        let (mut src, format) = if gguf.is_file() {
            let mut file = std::fs::File::open(&gguf)?;
            let content = gguf_file::Content::read(&mut file)
                .with_context(|| format!("reading {}", gguf.display()))?;
            (Source::Gguf { content, file }, WeightsFormat::Gguf)
        } else if st_path.is_file() {
            // SAFETY: the file is mapped read-only and not modified while loaded.
            let mm = unsafe { candle_core::safetensors::MmapedSafetensors::new(&st_path) }
                .with_context(|| format!("reading {}", st_path.display()))?;
            (Source::Safetensors(mm), WeightsFormat::Safetensors)
        } else {
            bail!(
                "{} holds neither {GGUF_FILE} nor {SAFETENSORS_FILE}",
                dir.display()
            );
        };
        // Checkpoints of a masked-LM or pre-training head keep the encoder under
        // "bert." or "roberta."; the bare encoder has no prefix.
        let prefix = match &src {
            Source::Safetensors(st) => ENCODER_PREFIXES
                .into_iter()
                .find(|p| {
                    st.get(&format!("{p}embeddings.word_embeddings.weight"))
                        .is_ok()
                })
                .with_context(|| {
                    format!(
                        "{} has no embeddings.word_embeddings.weight (with or without a \
                         bert./roberta. prefix): not a BERT or XLM-R checkpoint",
                        st_path.display()
                    )
                })?,
            Source::Gguf { .. } => "",
        };
        let n = |s: &str| format!("{prefix}{s}");
        let h = cfg.hidden_size;

        let word = src.word_table(&n("embeddings.word_embeddings.weight"), device)?;
        ensure!(
            word.shape().dims() == [cfg.vocab_size, h],
            "word table has shape {:?}, config says [{}, {h}]",
            word.shape(),
            cfg.vocab_size
        );
        let position = src.dense(&n("embeddings.position_embeddings.weight"), device, dtype)?;
        ensure!(
            position.dims() == [cfg.max_position_embeddings, h],
            "position table has shape {:?}",
            position.dims()
        );
        // BERT has two token types, XLM-R one; concord only ever uses type 0.
        let token_types =
            src.dense(&n("embeddings.token_type_embeddings.weight"), device, dtype)?;
        ensure!(
            token_types.dims() == [cfg.type_vocab_size, h],
            "token-type table has shape {:?}, config says [{}, {h}]",
            token_types.dims(),
            cfg.type_vocab_size
        );
        let token_type0 = token_types.get(0)?;
        let emb_ln_w = src.dense(&n("embeddings.LayerNorm.weight"), device, dtype)?;
        let emb_ln_b = src.dense(&n("embeddings.LayerNorm.bias"), device, dtype)?;

        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let p = |s: &str| n(&format!("encoder.layer.{l}.{s}"));
            let mut d = |s: &str| src.dense(&p(s), device, dtype);
            let q_w = d("attention.self.query.weight")?;
            let k_w = d("attention.self.key.weight")?;
            let v_w = d("attention.self.value.weight")?;
            let q_b = d("attention.self.query.bias")?;
            let k_b = d("attention.self.key.bias")?;
            let v_b = d("attention.self.value.bias")?;
            let layer = LayerWeights {
                qkv_w: Tensor::cat(&[&q_w, &k_w, &v_w], 0)?,
                qkv_b: Tensor::cat(&[&q_b, &k_b, &v_b], 0)?,
                attn_out_w: d("attention.output.dense.weight")?,
                attn_out_b: d("attention.output.dense.bias")?,
                attn_ln_w: d("attention.output.LayerNorm.weight")?,
                attn_ln_b: d("attention.output.LayerNorm.bias")?,
                up_w: d("intermediate.dense.weight")?,
                up_b: d("intermediate.dense.bias")?,
                down_w: d("output.dense.weight")?,
                down_b: d("output.dense.bias")?,
                out_ln_w: d("output.LayerNorm.weight")?,
                out_ln_b: d("output.LayerNorm.bias")?,
            };
            ensure!(
                layer.qkv_w.dims() == [3 * h, h]
                    && layer.up_w.dims() == [cfg.intermediate_size, h]
                    && layer.down_w.dims() == [h, cfg.intermediate_size],
                "layer {l} has unexpected weight shapes"
            );
            layers.push(layer);
        }
        Ok(Self {
            word,
            position,
            token_type0,
            emb_ln_w,
            emb_ln_b,
            layers,
            format,
        })
    }
}
