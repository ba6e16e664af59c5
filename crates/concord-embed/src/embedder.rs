//! The public embedding API: text in, L2-normalised vectors out.
//!
//! Texts are tokenized with the model's prompt for their role ([`Prefix`], e5's
//! `query: ` / `passage: `) and never truncated. A text longer than the model's
//! window (its positions less the two end tokens: 510 content tokens for e5) is cut
//! into consecutive windows, each run as `<s> window </s>` (`[CLS] … [SEP]` for a
//! WordPiece model); its vector is the mean of the windows' pooled states weighted by
//! their content token counts, then L2-normalised (for mean pooling, the mean over the
//! whole text with attention limited to each window; a text within one window gets
//! exactly the model's own vector). Windows of all texts are sorted by length and
//! packed into batches under a token budget.

use crate::candle::{l2_normalize, BertEncoder};
use crate::config::{BertConfig, TOKENIZER_FILE};
use crate::cpu::encoder::{CpuEncoder, CpuPrecision};
use crate::cpu::{isa, qgemm};
use crate::profile::Profile;
use crate::tokenize::{ModelTokenizer, Prefix};
use crate::weights::{EncoderWeights, WeightsFormat};
use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Default token budget of one forward pass. On the CPU, 1024 measured fastest on
/// the reference corpus (activations stay in cache; see benches/RESULTS.md); GPUs
/// want larger batches (`--batch-tokens`, `concord bench devices --budgets`).
pub const DEFAULT_BATCH_TOKENS: usize = 1024;

/// One embedded text.
#[derive(Debug, Clone)]
pub struct Embedding {
    pub vector: Vec<f32>,
    /// L2 norm of the pooled state before normalisation (`vector * norm` is unnormalised).
    pub norm: f32,
    /// Tokens fed to the model for this text, `<s>`/`</s>` of every window included.
    pub tokens: usize,
    pub windows: usize,
}

/// The consecutive windows of at most `window` content ids a text is run as (an empty
/// text is one empty window).
pub fn windows_of(ids: &[u32], window: usize) -> Vec<&[u32]> {
    if ids.is_empty() {
        vec![&[][..]]
    } else {
        ids.chunks(window.max(1)).collect()
    }
}

/// Tokens the model is fed for `n` content ids: the ids and `<s>`/`</s>` of every
/// window of [`windows_of`].
pub fn fed_tokens(n: usize, window: usize) -> usize {
    n + 2 * n.div_ceil(window.max(1)).max(1)
}

impl Embedding {
    /// Cosine similarity to `other` (both vectors are unit length).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.vector
            .iter()
            .zip(&other.vector)
            .map(|(a, b)| a * b)
            .sum()
    }

    /// The vector as little-endian f32 bytes (what base64 encodings of it carry).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.vector.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// The embedding of a text from those of its consecutive windows, each embedded on
    /// its own with its count of content ids: what [`Embedder::embed_ids`] gives the
    /// whole text (the windows' pooled states averaged by content length, then
    /// normalised).
    pub fn combine(parts: &[(Embedding, usize)]) -> Embedding {
        let dim = parts.first().map_or(0, |p| p.0.vector.len());
        let mut sum = vec![0f32; dim];
        let mut weights = 0f32;
        for (e, len) in parts {
            let w = (*len).max(1) as f32;
            for (s, v) in sum.iter_mut().zip(&e.vector) {
                *s += w * v * e.norm;
            }
            weights += w;
        }
        sum.iter_mut()
            .for_each(|s| *s /= weights.max(f32::MIN_POSITIVE));
        let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            sum.iter_mut().for_each(|s| *s /= norm);
        }
        Embedding {
            vector: sum,
            norm,
            tokens: parts.iter().map(|p| p.0.tokens).sum(),
            windows: parts.iter().map(|p| p.0.windows).sum(),
        }
    }
}

/// Progress of a call, reported after each forward pass.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub tokens_done: usize,
    pub tokens_total: usize,
}

/// Which forward pass runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The fused CPU pass ([`crate::cpu::encoder`]) with 8-bit integer projections,
    /// on the best kernel the processor has: the default on processors with AVX-512
    /// VNNI or AVX2.
    FusedInt8,
    /// The fused CPU pass in f32: the default on other processors.
    FusedF32,
    /// The candle graph ([`crate::candle`]); the only choice on a GPU, and the
    /// reference the fused pass is tested and benchmarked against on the CPU.
    Candle,
}

impl Engine {
    /// The precision of a fused CPU engine's projections (`FusedInt8` on the best
    /// kernel the processor has); `None` for the candle graph.
    fn cpu_precision(self) -> Result<Option<CpuPrecision>> {
        Ok(match self {
            Engine::FusedInt8 => Some(CpuPrecision::Int8(
                qgemm::Kernel::best()
                    .context("8-bit projections need a processor with AVX-512 VNNI or AVX2")?,
            )),
            Engine::FusedF32 => Some(CpuPrecision::F32),
            Engine::Candle => None,
        })
    }

    /// The fused CPU pass in `precision`.
    fn fused(precision: CpuPrecision) -> Self {
        match precision {
            CpuPrecision::Int8(_) => Engine::FusedInt8,
            CpuPrecision::F32 => Engine::FusedF32,
        }
    }

    /// A short name for logs, `model info` and benchmarks.
    pub fn label(self) -> &'static str {
        match self {
            Engine::FusedInt8 => "fused-int8",
            Engine::FusedF32 => "fused-f32",
            Engine::Candle => "candle",
        }
    }
}

/// What runs a loaded model: the one description logs, `model info`, `GET /info` and
/// the benchmarks show (the device is [`Embedder::device`]).
#[derive(Debug, Clone, Copy)]
pub struct Runtime {
    pub engine: Engine,
    /// The fused CPU pass's precision and kernel; `None` for the candle graph.
    pub precision: Option<CpuPrecision>,
    /// The instruction set the CPU row kernels (and f32 projections) use.
    pub cpu_isa: isa::Isa,
    /// What the encoder computes in.
    pub dtype: DType,
}

impl Runtime {
    /// The integer kernel of the 8-bit projections, if they run.
    pub fn int8_kernel(&self) -> Option<qgemm::Kernel> {
        match self.precision {
            Some(CpuPrecision::Int8(kernel)) => Some(kernel),
            _ => None,
        }
    }

    /// `f32` or `f16`.
    pub fn dtype_label(&self) -> &'static str {
        match self.dtype {
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            _ => "f32",
        }
    }

    /// `f32, fused-int8 engine, avx512 kernels, 8-bit on avx512-vnni`: for logs.
    pub fn summary(&self) -> String {
        format!(
            "{}, {} engine, {} kernels{}",
            self.dtype_label(),
            self.engine.label(),
            self.cpu_isa.label(),
            self.int8_kernel()
                .map_or(String::new(), |k| format!(", 8-bit on {}", k.label()))
        )
    }

    /// A short name of the engine and its precision (`int8 (avx512-vnni)`, `f32`,
    /// `candle`).
    pub fn precision_label(&self) -> String {
        self.precision.map_or("candle".into(), |p| p.label())
    }
}

enum Encoder {
    FusedCpu(Box<CpuEncoder>),
    Candle(Box<BertEncoder>),
}

pub struct Embedder {
    encoder: Encoder,
    cfg: BertConfig,
    device: Device,
    dtype: DType,
    format: WeightsFormat,
    tokenizer: ModelTokenizer,
    profile: Profile,
    dir: PathBuf,
    bos: u32,
    eos: u32,
    window: usize,
}

struct Window {
    text: usize,
    ids: Vec<u32>,
    weight: f32,
}

impl Embedder {
    /// Loads the model directory `dir` onto `device`: on the CPU the fused pass, with
    /// 8-bit projections where the processor has AVX-512 VNNI or AVX2 and in f32
    /// elsewhere; on a GPU the candle graph in f16.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let cfg = BertConfig::load(dir)?;
        let precision = device.is_cpu().then(|| CpuPrecision::best(&cfg));
        Self::load_with(dir, device, cfg, precision)
    }

    /// Loads with a chosen forward pass (the fused one exists on the CPU only, its
    /// 8-bit form on processors with AVX-512 VNNI or AVX2).
    pub fn load_engine(dir: &Path, device: &Device, engine: Engine) -> Result<Self> {
        anyhow::ensure!(
            engine == Engine::Candle || device.is_cpu(),
            "the fused forward pass runs on the CPU only"
        );
        Self::load_with(dir, device, BertConfig::load(dir)?, engine.cpu_precision()?)
    }

    /// Loads the fused CPU pass in a chosen precision and kernel.
    pub fn load_cpu(dir: &Path, precision: CpuPrecision) -> Result<Self> {
        Self::load_with(dir, &Device::Cpu, BertConfig::load(dir)?, Some(precision))
    }

    /// The model of `cfg` in `dir`: the fused CPU pass in `precision`, or the candle
    /// graph where it is `None`.
    fn load_with(
        dir: &Path,
        device: &Device,
        cfg: BertConfig,
        precision: Option<CpuPrecision>,
    ) -> Result<Self> {
        isa::check_env()?;
        let dtype = if device.is_cpu() {
            DType::F32
        } else {
            DType::F16
        };
        let tokenizer = ModelTokenizer::from_file(&dir.join(TOKENIZER_FILE))?;
        let profile = Profile::load(dir)?;
        let weights = EncoderWeights::load(dir, &cfg, device, dtype)
            .with_context(|| format!("loading weights from {}", dir.display()))?;
        let window = cfg.max_sequence() - 2;
        let (bos, eos) = (tokenizer.bos, tokenizer.eos);
        let format = weights.format;
        let encoder = match precision {
            Some(precision) => {
                Encoder::FusedCpu(Box::new(CpuEncoder::new(cfg.clone(), weights, precision)?))
            }
            None => Encoder::Candle(Box::new(BertEncoder::new(
                cfg.clone(),
                weights,
                device.clone(),
                dtype,
            ))),
        };
        Ok(Self {
            encoder,
            cfg,
            device: device.clone(),
            dtype,
            format,
            tokenizer,
            profile,
            dir: dir.to_path_buf(),
            bos,
            eos,
            window,
        })
    }

    pub fn dim(&self) -> usize {
        self.cfg.hidden_size
    }

    /// What runs the model: engine, precision, kernels and dtype.
    pub fn runtime(&self) -> Runtime {
        let (engine, precision) = match &self.encoder {
            Encoder::FusedCpu(e) => (Engine::fused(e.precision()), Some(e.precision())),
            Encoder::Candle(_) => (Engine::Candle, None),
        };
        Runtime {
            engine,
            precision,
            cpu_isa: isa::current(),
            dtype: self.dtype,
        }
    }

    pub fn model_dir(&self) -> &Path {
        &self.dir
    }

    pub fn weights_format(&self) -> WeightsFormat {
        self.format
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Pooled states of a packed batch, `[lens.len() * H]` row-major.
    fn pooled(&self, ids: &[u32], lens: &[usize]) -> Result<Vec<f32>> {
        let pooling = self.profile.pooling;
        match &self.encoder {
            Encoder::FusedCpu(e) => e.pooled(ids, lens, pooling),
            Encoder::Candle(e) => Ok(e.pooled(ids, lens, pooling)?.flatten_all()?.to_vec1()?),
        }
    }

    pub fn tokenizer(&self) -> &ModelTokenizer {
        &self.tokenizer
    }

    /// The model's pooling and prompts.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn config(&self) -> &BertConfig {
        &self.cfg
    }

    /// Content token ids of the prompt for `prefix` and `text` (no start or end
    /// token, not truncated).
    pub fn tokenize(&self, text: &str, prefix: Prefix) -> Result<Vec<u32>> {
        self.tokenizer
            .content_ids(text, self.profile.prompts.get(prefix))
    }

    /// Content ids one window holds (longer texts are cut into consecutive windows).
    pub fn window(&self) -> usize {
        self.window
    }

    /// Tokens the model is fed for `text`, specials of every window included.
    pub fn token_count(&self, text: &str, prefix: Prefix) -> Result<usize> {
        Ok(fed_tokens(self.tokenize(text, prefix)?.len(), self.window))
    }

    /// Embeds `texts`, returning one unit vector per text, in input order.
    pub fn embed(&self, texts: &[&str], prefix: Prefix) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .embed_detailed(texts, prefix, DEFAULT_BATCH_TOKENS, &mut |_| {})?
            .into_iter()
            .map(|e| e.vector)
            .collect())
    }

    /// Embeds `texts` under a per-pass token budget, reporting progress.
    pub fn embed_detailed(
        &self,
        texts: &[&str],
        prefix: Prefix,
        batch_tokens: usize,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<Embedding>> {
        let content: Vec<Vec<u32>> = texts
            .par_iter()
            .map(|t| self.tokenize(t, prefix))
            .collect::<Result<_>>()?;
        self.embed_ids(&content, batch_tokens, progress)
    }

    /// Runs windows of content ids (each at most [`Self::window`] long) as one pass:
    /// the caller (concord-infer's batcher) formed the batch, so nothing is re-packed.
    pub fn embed_batch(&self, windows: &[Vec<u32>]) -> Result<Vec<Embedding>> {
        self.embed_ids(windows, usize::MAX, &mut |_| {})
    }

    /// Embeds already tokenized texts (content ids as from [`Self::tokenize`]), packed
    /// longest first into passes of at most `batch_tokens`.
    pub fn embed_ids(
        &self,
        content: &[Vec<u32>],
        batch_tokens: usize,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<Embedding>> {
        let mut windows = Vec::new();
        for (text, ids) in content.iter().enumerate() {
            for chunk in windows_of(ids, self.window) {
                let mut w = Vec::with_capacity(chunk.len() + 2);
                w.push(self.bos);
                w.extend_from_slice(chunk);
                w.push(self.eos);
                windows.push(Window {
                    text,
                    ids: w,
                    weight: chunk.len().max(1) as f32,
                });
            }
        }
        windows.sort_by_key(|w| std::cmp::Reverse(w.ids.len()));
        let tokens_total: usize = windows.iter().map(|w| w.ids.len()).sum();

        let dim = self.dim();
        let mut sums = vec![0f32; content.len() * dim];
        let mut weights = vec![0f32; content.len()];
        let mut out_tokens = vec![0usize; content.len()];
        let mut out_windows = vec![0usize; content.len()];
        let mut done = 0;
        let mut start = 0;
        while start < windows.len() {
            let mut end = start;
            let mut batch_len = 0;
            while end < windows.len()
                && (end == start || batch_len + windows[end].ids.len() <= batch_tokens)
            {
                batch_len += windows[end].ids.len();
                end += 1;
            }
            let batch = &windows[start..end];
            let ids: Vec<u32> = batch.iter().flat_map(|w| w.ids.iter().copied()).collect();
            let lens: Vec<usize> = batch.iter().map(|w| w.ids.len()).collect();
            let pooled = self.pooled(&ids, &lens)?;
            for (w, row) in batch.iter().zip(pooled.chunks_exact(dim)) {
                let acc = &mut sums[w.text * dim..(w.text + 1) * dim];
                for (a, r) in acc.iter_mut().zip(row) {
                    *a += w.weight * r;
                }
                weights[w.text] += w.weight;
                out_tokens[w.text] += w.ids.len();
                out_windows[w.text] += 1;
            }
            done += batch_len;
            progress(Progress {
                tokens_done: done,
                tokens_total,
            });
            start = end;
        }

        let n = content.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        for (i, w) in weights.iter().enumerate() {
            for v in &mut sums[i * dim..(i + 1) * dim] {
                *v /= w;
            }
        }
        let norms: Vec<f32> = sums
            .chunks_exact(dim)
            .map(|r| r.iter().map(|x| x * x).sum::<f32>().sqrt())
            .collect();
        let normed = l2_normalize(&Tensor::from_vec(sums, (n, dim), &Device::Cpu)?)?;
        let rows: Vec<Vec<f32>> = normed.to_vec2()?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, vector)| Embedding {
                vector,
                norm: norms[i],
                tokens: out_tokens[i],
                windows: out_windows[i],
            })
            .collect())
    }
}
